"""The Python API: a run, the features, segments of in-memory features, and saved models.

Reached as ``custseg.run``, ``custseg.segment`` ... (``import custseg`` stays cheap: this module
is imported on first use). Settings are keyword arguments; a run's are merged exactly as the
command line's: arguments > ``CUSTSEG_*`` environment variables > the ``[run]`` table of
``config`` > the defaults of :class:`custseg.settings.Settings`. Errors are the exceptions of
:mod:`custseg.errors`: ``except custseg.errors.CustsegError`` catches every one a user can act
on, and those about a value passed in are ``ValueError`` s too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from custseg.api.results import SegmentModel, SegmentResult, segment_summaries
from custseg.api.tables import assignments_table, features_table, read_features
from custseg.config_file import settings_from
from custseg.errors import storage_error
from custseg.model.fitting import fit_segments, model_metadata, silent
from custseg.model.model_file import load_model as _load_model_file
from custseg.model.model_file import model_document
from custseg.pipeline import features_pipeline, run_pipeline
from custseg.run_result import RunResult
from custseg.sample import SampleDataSummary, generate_sample_data
from custseg.settings import (
    CONFIG_ENV,
    DEFAULTS,
    SAMPLE_CUSTOMERS,
    SAMPLE_FORMAT,
    SAMPLE_SEED,
    Settings,
    read_value,
)

__all__ = [
    "RunResult",
    "SampleDataSummary",
    "SegmentModel",
    "SegmentResult",
    "build_features",
    "generate_sample",
    "load_model",
    "run",
    "segment",
]

#: A path as the API takes it.
PathLike = str | os.PathLike[str]
#: Called with one line per step of a long call (nothing is printed by default).
Progress = Callable[[str], None]


def run(
    data_dir: PathLike | None = None,
    *,
    config: PathLike | None = None,
    dataset: str | None = None,
    project_dir: PathLike | None = None,
    profiles_dir: PathLike | None = None,
    duckdb_path: PathLike | None = None,
    target: Literal["duckdb", "postgres", "spark", "snowflake"] | None = None,
    lock_timeout: float | None = None,
    as_of_date: dt.date | str | None = None,
    k: int | Literal["auto"] | None = None,
    random_state: int | None = None,
    min_segment_share: float | None = None,
    max_centroid_shift: float | None = None,
    drift_psi_alarm: float | None = None,
    drift_share_shift_alarm: float | None = None,
    drift_kept_share_min: float | None = None,
    seed_max_customers: int | None = None,
    fit_sample_size: int | None = None,
    allow_unsupported_names: bool | None = None,
    currency: str | None = None,
    strict_amounts: bool | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run the whole flow, as ``custseg run`` does: load, build features with dbt, cluster,
    publish and test the segments, write the model, metrics and report.

    Every setting left at None is taken from ``CUSTSEG_<SETTING>``, else from the ``[run]``
    table of ``config`` (default: ``CUSTSEG_CONFIG``), else its default; see ``custseg run
    --help`` for each. ``config`` also maps your own files (``[inputs]``).

    Parameters
    ----------
    data_dir
        Folder of the raw files (required here, in the environment or in ``config``).
    dataset
        Name of the data (default: derived from ``data_dir`` and the input mapping); the
        published model is compared with, and its segment ids kept, only within one dataset.
    currency
        Label the report writes on its money figures, e.g. ``"EUR"`` or ``"$"`` (default: none).
    progress
        Called with one line per step (default: nothing is reported).

    Returns
    -------
    RunResult
        The segments' summary read from the mart, where everything went, the time per stage;
        ``result.to_dict()`` is what ``custseg run --json`` prints.

    Raises
    ------
    ConfigError
        A setting or the config file is invalid, or no project or data folder is found.
    InputDataError, InsufficientDataError
        The raw files break a rule, or too few customers to segment.
    SegmentationError
        A name is not supported by its segment's profile (see ``allow_unsupported_names``).
    PublishError, DbtError
        Validation or a dbt test failed; the previous publication was put back.
    LockError
        Another run, process or session holds the project, the DuckDB file or a table.
    StorageError
        A file or folder cannot be written (disk full, permission denied).

    Examples
    --------
    >>> result = custseg.run("build/sample_data", as_of_date="2020-01-01")  # doctest: +SKIP
    >>> [(s.segment_name, s.customers) for s in result.segments]  # doctest: +SKIP
    [('Big Spenders', 280), ('At-Risk (Lapsing)', 406), ...]
    """
    # Every parameter but these two is a setting of custseg.settings.OPTIONS (None: not given).
    given = {key: value for key, value in locals().items() if key not in ("config", "progress")}
    with _storage_errors():
        settings, inputs = _settings(config, given, require_data_dir=True)
        return run_pipeline(settings, inputs, progress=progress or silent)


def build_features(
    data_dir: PathLike | None = None,
    *,
    config: PathLike | None = None,
    project_dir: PathLike | None = None,
    profiles_dir: PathLike | None = None,
    duckdb_path: PathLike | None = None,
    target: Literal["duckdb", "postgres", "spark", "snowflake"] | None = None,
    lock_timeout: float | None = None,
    as_of_date: dt.date | str | None = None,
    strict_amounts: bool | None = None,
    progress: Progress | None = None,
) -> pa.Table:
    """The per-customer features dbt builds (``customer_features``), as a run builds them.

    Loads the raw files of ``data_dir`` into the warehouse and builds and tests every dbt model
    up to ``customer_features``; without a data folder, reads the features of the last run.
    Nothing is published. Settings as for :func:`run`.

    Returns
    -------
    pyarrow.Table
        ``customer_id`` (text), ``recency_days``, ``count_orders`` (int64),
        ``lifetime_revenue``, ``avg_order_value`` (float64) and ``as_of_date``, one row per
        customer with an order before the as-of date, by customer id: the input of
        :func:`segment`.

    Raises
    ------
    ConfigError, InputDataError, InsufficientDataError, DbtError, LockError, StorageError
        As for :func:`run`.

    Examples
    --------
    >>> features = custseg.build_features("build/sample_data")  # doctest: +SKIP
    >>> features.num_rows, features.column_names[:3]  # doctest: +SKIP
    (2000, ['customer_id', 'recency_days', 'count_orders'])
    """
    given = {key: value for key, value in locals().items() if key not in ("config", "progress")}
    with _storage_errors():
        settings, inputs = _settings(config, given)
        found = features_pipeline(settings, inputs, progress or silent)
    return features_table(found.customer_ids, found.matrix, found.as_of_date, found.rhythm_columns)


def segment(
    features: Any,
    *,
    k: int | str = DEFAULTS.k,
    random_state: int = DEFAULTS.random_state,
    min_segment_share: float = DEFAULTS.min_segment_share,
    fit_sample_size: int = DEFAULTS.fit_sample_size,
    allow_unsupported_names: bool = DEFAULTS.allow_unsupported_names,
    previous: SegmentModel | None = None,
    max_centroid_shift: float = DEFAULTS.max_centroid_shift,
    as_of_date: dt.date | str | None = None,
    progress: Progress | None = None,
) -> SegmentResult:
    """Fit named segments on in-memory per-customer features, with a run's fitting code.

    Parameters
    ----------
    features : table-like
        One row per customer: ``customer_id`` (text or whole numbers) and ``recency_days``,
        ``count_orders``, ``lifetime_revenue``, ``avg_order_value`` (numbers >= 0); with
        ``lifetime_days`` and ``count_purchase_days`` too (as :func:`build_features` returns
        them), the names' absolute rules are also checked in the data's purchase rhythm and
        the wider catalogue can name what the first five do not fit. Other columns are
        ignored. A ``pyarrow.Table``, a mapping of column name to values, a pandas
        or polars DataFrame, or anything else ``pyarrow.table()`` accepts.
    k
        Number of segments (2-10), or ``"auto"`` to choose one of 2-8 as ``custseg evaluate``
        does (under ``min_segment_share``).
    random_state
        Seed of every random draw (fit sample, silhouette sample, k-means++ fallback).
    fit_sample_size
        Above this many customers, K-means is fitted on a random sample of this size.
    allow_unsupported_names
        Return segments whose profile does not support their name (with a warning) instead of
        raising SegmentationError.
    previous
        A model to keep the segment ids of when the segments moved less than
        ``max_centroid_shift`` standard deviations (as a run keeps the published ids).
    as_of_date
        Recorded in the model document; default: the ``as_of_date`` column when there is one.

    Rows are fitted in customer id order, as a run fits them, so the same customers give the
    same model (and the same model document as a run on the same features) in any row order.

    Returns
    -------
    SegmentResult
        ``assignments`` (a ``pyarrow.Table``), ``segments``, ``name_checks``, ``metrics``,
        ``model`` (``model.document`` is the JSON model document), ``predict(features)``.

    Raises
    ------
    InputDataError
        ``features`` is not a table, a column is missing or ill-typed, a value is null, NaN,
        infinite or negative, or a customer appears twice; the message names the column and
        the customers.
    InsufficientDataError
        Fewer customers, or distinct profiles, than segments.
    ConfigError
        A setting is invalid (e.g. ``k=11``).
    SegmentationError
        A name is not supported by its segment's profile, or k cannot be chosen.

    Examples
    --------
    >>> result = custseg.segment(
    ...     {
    ...         "customer_id": ["a", "b", "c", ...],
    ...         "recency_days": [5, 300, 40, ...],
    ...         "count_orders": [40, 12, 2, ...],
    ...         "lifetime_revenue": [8000.0, 1200.0, 3000.0, ...],
    ...         "avg_order_value": [200.0, 100.0, 1500.0, ...],
    ...     },
    ...     k=5,
    ... )  # doctest: +SKIP
    >>> result.assignments.to_pylist()[0]  # doctest: +SKIP
    {'customer_id': 'a', 'segment_id': 3, 'segment_name': 'Champions (VIPs)'}
    >>> result.predict(new_customers)  # doctest: +SKIP
    """
    checked = read_features(features)
    settings = _fit_settings(
        k=k,
        random_state=random_state,
        min_segment_share=min_segment_share,
        fit_sample_size=fit_sample_size,
        allow_unsupported_names=allow_unsupported_names,
        max_centroid_shift=max_centroid_shift,
    )
    recorded_date: dt.date | None = (
        checked.as_of_date
        if as_of_date is None
        else read_value("as_of_date", as_of_date, _argument("as_of_date"))
    )
    # The run's order: customer ids sorted by code point (custseg.features).
    order = np.argsort(np.array(checked.customer_ids), kind="stable")
    ids = [checked.customer_ids[i] for i in order]
    matrix = checked.matrix[order]
    fitted = fit_segments(
        matrix,
        settings,
        previous.segmenter if previous else None,
        progress or silent,
        None if checked.rhythm is None else checked.rhythm.rows(order),
    )
    metadata = model_metadata(settings, fitted, ids, matrix, recorded_date)
    document = model_document(
        fitted.segmenter, metadata=metadata, drift_reference=fitted.drift_reference
    )
    model = SegmentModel(fitted.segmenter, document)
    labels = np.empty_like(fitted.labels)
    labels[order] = fitted.labels  # back to the input's row order
    return SegmentResult(
        assignments=assignments_table(checked.customer_ids, labels),
        segments=segment_summaries(fitted.segmenter, matrix, fitted.labels),
        name_checks=[check.to_dict() for check in fitted.segmenter.name_checks_],
        metrics=fitted.metrics,
        model=model,
        k_selection=fitted.selection.to_dict() if fitted.selection else None,
        warnings=list(fitted.warnings),
    )


def load_model(path: PathLike) -> SegmentModel:
    """Read a model file a run (or :meth:`SegmentModel.save`) wrote, to score features.

    Raises
    ------
    ModelIntegrityError
        The file is missing, not JSON, not a custseg model, edited after it was written
        (integrity hash), or from another major.minor version of custseg.

    Examples
    --------
    >>> model = custseg.load_model("ml_pipeline/models/segment_model.json")  # doctest: +SKIP
    >>> model.predict(custseg.build_features()).num_rows  # doctest: +SKIP
    2000
    """
    segmenter, document = _load_model_file(Path(path))
    return SegmentModel(segmenter, document)


def generate_sample(
    out_dir: PathLike,
    *,
    customers: int = SAMPLE_CUSTOMERS,
    seed: int = SAMPLE_SEED,
    file_format: str = SAMPLE_FORMAT,
) -> SampleDataSummary:
    """Write the deterministic sample dataset (``custseg generate-sample``) into ``out_dir``:
    the five files laid out like the Marketing Insights data, and ``planted_segments.csv``.

    Raises
    ------
    ValueError
        ``customers`` below 1, a negative seed or an unknown format.

    Examples
    --------
    >>> custseg.generate_sample("build/sample_data", customers=500).n_orders  # doctest: +SKIP
    4981
    """
    return generate_sample_data(
        Path(out_dir), n_customers=customers, seed=seed, file_format=file_format
    )


# ---------------------------------------------------------------------------- helpers


def _argument(name: str) -> str:
    """How a message names a keyword argument: ``argument k: 7 is not valid; ...``."""
    return f"argument {name}"


def _settings(
    config: PathLike | None, given: dict[str, Any], **options: Any
) -> tuple[Settings, tuple[Any, ...]]:
    """The settings of a run: ``given`` > environment > config file > defaults."""
    if config is None:
        config = os.environ.get(CONFIG_ENV, "").strip() or None
    return settings_from(
        None if config is None else Path(config), given, describe=_argument, **options
    )


def _fit_settings(**values: Any) -> Settings:
    """The defaults with ``values``, each checked as a setting (no project needed)."""
    read = {name: read_value(name, value, _argument(name)) for name, value in values.items()}
    return dataclasses.replace(DEFAULTS, **read)


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """A storage fault the library did not name (disk full, permission denied) as the
    :class:`~custseg.errors.StorageError` the command line reports; other OSErrors are bugs."""
    try:
        yield
    except OSError as error:
        storage = storage_error(error)
        if storage is None:
            raise
        raise storage from error
