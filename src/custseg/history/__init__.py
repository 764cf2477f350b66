"""Segments over time: what every publication records in the warehouse's history.

Each publication adds a batch to two incremental dbt models (``models/history/``):
``segment_runs``, one row per as-of date with the run, the model and its quality figures, and
``segment_memberships``, every customer's segment and features at that date. ``custseg run``
adds its own as-of date, ``custseg backfill`` many past ones. custseg passes the batch to dbt in
environment variables (:func:`history_env`), not vars: dbt re-parses the whole project when its
vars change, and only the models reading a changed variable otherwise.
"""

from custseg.history.records import (
    BACKFILL_DATES_ENV,
    HISTORY_SOURCE_ENV,
    RUN_RECORDS_ENV,
    RunRecord,
    history_env,
    record_of_run,
    run_record,
)
from custseg.publish.publication import HISTORY_TABLES, MOVE_TABLES

__all__ = [
    "BACKFILL_DATES_ENV",
    "HISTORY_SOURCE_ENV",
    "HISTORY_TABLES",
    "MOVE_TABLES",
    "RUN_RECORDS_ENV",
    "RunRecord",
    "history_env",
    "record_of_run",
    "run_record",
]
