"""The features stage: dbt builds ``customer_features`` from the raw tables; custseg reads it.

Every feature is computed in SQL by the dbt models (staging, the priced sales lines, orders,
``customer_features``) as of the as-of date, and tested there; this module runs that build and
reads the result back as the matrix the model fits on.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from custseg.dbt.runner import DbtNodeResult, invocation_for, parse_project, run_dbt
from custseg.errors import InsufficientDataError
from custseg.model.features import FEATURES
from custseg.model.model_file import fingerprint_features
from custseg.model.rhythm import RHYTHM_COLUMNS, Rhythm, silence_in_gaps
from custseg.settings import Settings
from custseg.warehouses import Warehouse, as_date

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

#: The dbt model the ML step reads (its columns are a contract, see models/ml/).
FEATURES_MODEL = "customer_features"
#: The features at every as-of date of a backfill (the same definition, many dates).
FEATURES_BY_DATE_MODEL = "customer_features_by_as_of_date"
#: The sales mart: the features do not read it (they read int_sales_lines_priced, as it does),
#: but every run publishes it with them; a view, so building it costs nothing.
SALES_MART = "fct_sales"
#: dbt tests that restate what custseg's load guarantees (its input rules, the line numbers it
#: gives): a build right after that load leaves them out (see build_feature_models).
GUARANTEED_BY_LOAD_TAG = "guaranteed_by_load"


@dataclass(frozen=True)
class CustomerFeatures:
    """The clustering inputs read back from the warehouse, ordered by customer id."""

    customer_ids: list[str]
    # One row per customer, the columns of custseg.model.features.FEATURES.
    matrix: np.ndarray
    as_of_date: dt.date
    # Per customer (same order), the columns of RHYTHM_COLUMNS the rhythm is measured from.
    rhythm_columns: np.ndarray | None = None
    # The data's usual gap and each customer's silence in it (custseg.model.rhythm); None when
    # no customer bought on two different days.
    rhythm: Rhythm | None = None

    @functools.cached_property
    def fingerprint(self) -> str:
        """:func:`custseg.model.model_file.fingerprint_features` of the ids and the matrix,
        computed once: a run records it in the model, its history row and its k evidence (0.4 s
        each at a million customers). The features are frozen: never change the matrix in
        place."""
        return fingerprint_features(self.customer_ids, self.matrix)


def parse_dbt_project(settings: Settings, warehouse: Warehouse) -> Manifest:
    """Parse the dbt project once for a run: its features build and its publication reuse
    it (:func:`custseg.dbt.runner.parse_project`)."""
    return parse_project(invocation_for(settings, warehouse))


def build_features(
    settings: Settings,
    warehouse: Warehouse,
    manifest: Manifest | None = None,
    *,
    just_loaded: bool = False,
    artifacts: bool = True,
) -> CustomerFeatures:
    """Build and test everything up to ``customer_features`` with dbt, then read it.

    ``manifest``: the project as the run parsed it (:func:`custseg.dbt.runner.parse_project`);
    None: dbt parses it. ``just_loaded``: see :func:`build_feature_models`. ``artifacts``: False
    when a later build of the same run writes dbt's artifacts in ``target/`` (see
    :func:`custseg.dbt.runner.run_dbt`)."""
    build_feature_models(
        settings, warehouse, manifest, just_loaded=just_loaded, artifacts=artifacts
    )
    return read_customer_features(warehouse)


def build_feature_models(
    settings: Settings,
    warehouse: Warehouse,
    manifest: Manifest | None = None,
    *,
    just_loaded: bool = False,
    artifacts: bool = True,
) -> list[DbtNodeResult]:
    """Build and test everything up to ``customer_features``, and ``fct_sales``, with dbt.

    One ``dbt build`` (on ``manifest`` when given, see :func:`build_features`).

    ``just_loaded``: the raw tables were replaced by :meth:`Warehouse.load_raw` in this same
    run, whose input rules have just held on every row. The dbt tests tagged
    ``guaranteed_by_load`` restate those rules (a unique line number, every sale's customer in
    the customer file, ...) and are left out: at 50 million lines they cost a few seconds of
    scans that cannot fail. Otherwise (raw tables loaded by anything else) every test runs.
    """
    skipped = ("--exclude", f"tag:{GUARANTEED_BY_LOAD_TAG}") if just_loaded else ()
    return run_dbt(
        invocation_for(settings, warehouse),
        "build",
        "--select",
        f"+{FEATURES_MODEL}",
        SALES_MART,
        *skipped,
        "--indirect-selection",
        "cautious",
        manifest=manifest,
        artifacts=artifacts,
    )


def read_customer_features(warehouse: Warehouse) -> CustomerFeatures:
    """Read the clustering features from the ``customer_features`` model, by customer id.

    Ids are sorted in Python (code point order, whatever the engine's collation), so the same
    customers give the same matrix, and the same model, on every engine.

    Raises
    ------
    InsufficientDataError
        No customer has an order before the as-of date.
    """
    relation = warehouse.relation(FEATURES_MODEL)
    names = ("customer_id", *FEATURES, *RHYTHM_COLUMNS)
    with warehouse.reads():
        columns = warehouse.fetch_columns(f"select {', '.join(names)} from {relation}", names)
        if len(columns["customer_id"]) == 0:
            raise InsufficientDataError(
                "customer_features is empty: no customer has an order before the as-of date. "
                "Check the sales file and --as-of-date."
            )
        ((as_of_date,),) = warehouse.fetch(f"select min(as_of_date) from {relation}")
    return _features_of(columns, np.arange(len(columns["customer_id"])), as_of_date)


def read_features_by_as_of_date(warehouse: Warehouse) -> dict[dt.date, CustomerFeatures]:
    """Read ``customer_features_by_as_of_date`` (a backfill's dates): the features at each date,
    ordered by customer id as :func:`read_customer_features` orders them. A date no customer
    had ordered before is left out."""
    relation = warehouse.relation(FEATURES_BY_DATE_MODEL)
    names = ("as_of_date", "customer_id", *FEATURES, *RHYTHM_COLUMNS)
    columns = warehouse.fetch_columns(f"select {', '.join(names)} from {relation}", names)
    dates = np.array([as_date(value) for value in columns["as_of_date"]], dtype=object)
    return {
        day: _features_of(columns, np.flatnonzero(dates == day), day)
        for day in sorted(set(dates.tolist()))
    }


def _features_of(
    columns: dict[str, np.ndarray], rows: np.ndarray, as_of_date: dt.date
) -> CustomerFeatures:
    """The features of ``rows`` of ``columns``, ordered by customer id."""
    ids = np.array([str(value) for value in columns["customer_id"][rows]])
    order = rows[np.argsort(ids, kind="stable")]
    matrix = np.column_stack(
        [np.asarray(columns[feature][order], dtype=np.float64) for feature in FEATURES]
    )
    rhythm = np.column_stack(
        [np.asarray(columns[name][order], dtype=np.float64) for name in RHYTHM_COLUMNS]
    )
    return CustomerFeatures(
        customer_ids=[str(value) for value in columns["customer_id"][order]],
        matrix=matrix,
        as_of_date=as_of_date,
        rhythm_columns=rhythm,
        rhythm=silence_in_gaps(matrix[:, FEATURES.index("recency_days")], *rhythm.T),
    )
