"""Per-customer features in and segments out, as Arrow tables.

The API takes anything :func:`pyarrow.table` accepts (a :class:`pyarrow.Table`, a mapping of
column name to values, a pandas or polars DataFrame, any object with the Arrow PyCapsule
interface) without importing pandas or polars itself, and checks every column before anything
is fitted or scored: a missing or ill-typed column and null, NaN, infinite or negative values
are named with the customers that hold them and what to do.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custseg.catalogue import SEGMENT_NAMES
from custseg.errors import InputDataError, InsufficientDataError
from custseg.model.features import FEATURES
from custseg.model.rhythm import RHYTHM_COLUMNS, Rhythm, silence_in_gaps

#: The customer id column of a features table and of every table the API returns.
ID_COLUMN = "customer_id"
#: The optional column of the date the features were computed as of (dbt's customer_features).
AS_OF_COLUMN = "as_of_date"
#: How many offending customer ids an error message shows.
SHOWN_IDS = 5
#: Columns and types of the assignments the API returns.
ASSIGNMENTS_SCHEMA = pa.schema(
    [(ID_COLUMN, pa.string()), ("segment_id", pa.int64()), ("segment_name", pa.string())]
)
#: Feature columns holding whole numbers in dbt's customer_features (the rest are amounts).
WHOLE_FEATURES = ("recency_days", "count_orders", *RHYTHM_COLUMNS)


@dataclass(frozen=True)
class FeatureTable:
    """Checked features: customer ids as text and the matrix of ``FEATURES`` (float64)."""

    customer_ids: list[str]
    matrix: np.ndarray
    # The as_of_date column's one value when the table has one, else None.
    as_of_date: dt.date | None
    # The data's purchase rhythm (custseg.model.rhythm) when the table has the optional columns
    # lifetime_days and count_purchase_days and someone bought on two different days, else None.
    rhythm: Rhythm | None = None


def as_arrow(data: Any, what: str = "features") -> pa.Table:
    """``data`` as a :class:`pyarrow.Table` (see the module docstring for what is accepted)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        if isinstance(data, Mapping):
            return pa.table(dict(data))
        return pa.table(data)
    except (TypeError, ValueError, pa.ArrowException) as exc:
        raise InputDataError(
            f"{what} must be a table: a pyarrow.Table, a mapping of column name to values, or a "
            f"pandas or polars DataFrame; got {type(data).__name__} ({exc})."
        ) from exc


def read_features(data: Any, what: str = "features") -> FeatureTable:
    """Check a features table and return its ids and matrix, in the table's row order.

    Raises
    ------
    InputDataError
        Not a table, a column missing or of the wrong type, a null, NaN, infinite or negative
        value, or a customer id twice; the message names the column and the customers.
    InsufficientDataError
        The table has no rows.
    """
    table = as_arrow(data, what)
    missing = [name for name in (ID_COLUMN, *FEATURES) if name not in table.column_names]
    if missing:
        raise InputDataError(
            f"{what} has no column {', '.join(missing)} (it has {', '.join(table.column_names)}). "
            f"Give one row per customer with the columns {ID_COLUMN}, {', '.join(FEATURES)} "
            "(rename yours to these names), as dbt's customer_features model has them."
        )
    if table.num_rows == 0:
        raise InsufficientDataError(f"{what} has no rows: give one row per customer.")
    ids = _customer_ids(table, what)
    matrix = np.column_stack([_feature(table, name, ids, what) for name in FEATURES])
    rhythm = None
    if all(name in table.column_names for name in RHYTHM_COLUMNS):
        lifetime, purchase_days = (_feature(table, name, ids, what) for name in RHYTHM_COLUMNS)
        rhythm = silence_in_gaps(matrix[:, FEATURES.index("recency_days")], lifetime, purchase_days)
    return FeatureTable(ids, matrix, _as_of_date(table, what), rhythm)


def _customer_ids(table: pa.Table, what: str) -> list[str]:
    column = table.column(ID_COLUMN)
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (_is_text(kind) or pa.types.is_integer(kind)):
        raise InputDataError(
            f"{what}: column {ID_COLUMN} is of type {column.type}; give customer ids as text or "
            "whole numbers."
        )
    if column.null_count:
        raise InputDataError(
            f"{what}: column {ID_COLUMN} is empty in {column.null_count} row(s) (rows "
            f"{_rows(pc.is_null(column))}); every row needs a customer id: drop these rows."
        )
    ids = [str(value) for value in column.cast(pa.string()).to_pylist()]
    if len(set(ids)) != len(ids):
        twice = sorted(i for i, n in Counter(ids).items() if n > 1)
        raise InputDataError(
            f"{what}: {len(twice)} customer id(s) appear in more than one row "
            f"({_shown(twice)}); give one row per customer (aggregate the rows first)."
        )
    return ids


def _feature(table: pa.Table, name: str, ids: Sequence[str], what: str) -> np.ndarray:
    column = table.column(name)
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise InputDataError(
            f"{what}: column {name} is of type {kind}; it must hold numbers (integers or "
            "floats). Convert it, e.g. parse text as numbers, before segmenting."
        )
    if column.null_count:
        nulls = np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False), dtype=bool)
        raise InputDataError(
            f"{what}: column {name} is null for {column.null_count} customer(s) "
            f"({_shown(np.asarray(ids)[nulls])}); fill or drop these customers (a customer "
            "without orders has no features)."
        )
    values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    for bad, words in ((~np.isfinite(values), "NaN or infinite"), (values < 0, "negative")):
        if bad.any():
            raise InputDataError(
                f"{what}: column {name} is {words} for {int(bad.sum())} customer(s) "
                f"({_shown(np.asarray(ids)[bad])}); every feature must be a finite number >= 0: "
                "fix or drop these customers (recency is measured from an as-of date after the "
                "last purchase)."
            )
    return values


def _as_of_date(table: pa.Table, what: str) -> dt.date | None:
    if AS_OF_COLUMN not in table.column_names:
        return None
    column = table.column(AS_OF_COLUMN)
    dates = set(column.to_pylist())
    if len(dates) != 1 or not isinstance(next(iter(dates)), dt.date):
        raise InputDataError(
            f"{what}: column {AS_OF_COLUMN} must hold one date for every customer (the date the "
            f"features were computed as of); it holds {len(dates)} distinct value(s) of type "
            f"{column.type}. Drop the column or compute every customer's features as of one date."
        )
    (as_of,) = dates
    return as_of.date() if isinstance(as_of, dt.datetime) else as_of


def assignments_table(customer_ids: Sequence[str], segment_ids: np.ndarray) -> pa.Table:
    """``customer_id, segment_id, segment_name``, one row per customer in the order given."""
    labels = [int(s) for s in segment_ids]
    return pa.table(
        [
            pa.array(list(customer_ids), pa.string()),
            pa.array(labels, pa.int64()),
            pa.array([SEGMENT_NAMES[s] for s in labels], pa.string()),
        ],
        schema=ASSIGNMENTS_SCHEMA,
    )


def features_table(
    customer_ids: Sequence[str],
    matrix: np.ndarray,
    as_of_date: dt.date | None,
    rhythm: np.ndarray | None = None,
) -> pa.Table:
    """The features as dbt's ``customer_features`` has them: ids as text, whole numbers as
    int64, amounts as float64, the columns the purchase rhythm is measured from (when
    ``rhythm`` gives them) and the as-of date."""
    columns: dict[str, pa.Array] = {ID_COLUMN: pa.array(list(customer_ids), pa.string())}
    named = list(zip(FEATURES, matrix.T, strict=True))
    if rhythm is not None:
        named += list(zip(RHYTHM_COLUMNS, rhythm.T, strict=True))
    for name, column in named:
        values = pa.array(column, pa.float64())
        columns[name] = values.cast(pa.int64()) if name in WHOLE_FEATURES else values
    columns[AS_OF_COLUMN] = pa.array([as_of_date] * len(customer_ids), pa.date32())
    return pa.table(columns)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()


def _shown(ids: Sequence[str] | np.ndarray) -> str:
    values = [str(i) for i in ids]
    more = f" and {len(values) - SHOWN_IDS} more" if len(values) > SHOWN_IDS else ""
    return "customer_id " + ", ".join(values[:SHOWN_IDS]) + more


def _rows(mask: pa.ChunkedArray) -> str:
    rows = np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool))
    more = f" and {len(rows) - SHOWN_IDS} more" if len(rows) > SHOWN_IDS else ""
    return ", ".join(str(r) for r in rows[:SHOWN_IDS]) + more
