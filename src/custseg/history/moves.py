"""``custseg moves``: who is about to lapse, learnt from the history and scored in the warehouse.

:func:`publish_moves` does the whole job:

1. reads ``segment_memberships`` (every as-of date, with recency_days, count_orders and
   avg_order_value) and refuses a history of fewer than :data:`MIN_AS_OF_DATES` dates (the
   out-of-time evaluation needs two pairs of dates);
2. runs :func:`custseg.monitoring.move_evaluation.study_moves` with At-Risk (Lapsing) as the
   target: the move model trained on every pair of consecutive dates but the last, scored on the
   last against the transition-matrix baseline, then refitted on every pair;
3. publishes, as one unit, the model file ``ml_pipeline/models/move_model.json`` (the model, its
   evaluation and the as-of dates it learnt from), the seed ``move_model_terms`` and
   ``fct_at_risk_candidates``, which dbt scores from the seed in SQL. Before the commit, every
   customer's probability and drivers in SQL are checked against Python's
   (:meth:`~custseg.monitoring.move_model.MoveModel.predict_proba` and ``drivers``): a
   difference puts everything back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custseg.catalogue import AT_RISK, SEGMENT_NAMES
from custseg.dbt.runner import invocation_for, run_dbt
from custseg.errors import InsufficientDataError, PublishError
from custseg.history.backfill import months_after
from custseg.model.fitting import Progress, silent
from custseg.model.model_file import canonical_json
from custseg.monitoring.at_risk import CANDIDATE_COLUMNS, N_DRIVERS, AtRiskCandidate
from custseg.monitoring.move_evaluation import MoveEvaluation, MoveStudy, study_moves
from custseg.monitoring.move_model import MOVE_FEATURES, MoveModel, state_name
from custseg.monitoring.move_prediction import CustomerHistory, MoveForecast
from custseg.publish.publication import MOVE_TABLES, publication
from custseg.settings import Settings, header_line
from custseg.warehouses import Warehouse, as_date

#: The out-of-time evaluation trains on two pairs of dates at least and tests on the next.
MIN_AS_OF_DATES = 3
#: The share of the candidates whose precision the evaluation measures (the top 10%).
TOP_SHARE = 0.1
#: Largest difference allowed between a probability or a contribution in SQL and in Python
#: (the same arithmetic in another order differs in the last bits, about 1e-15).
PARITY_TOLERANCE = 1e-9
_DOCUMENT_KIND = "custseg.MoveModelFile"


@dataclass(frozen=True)
class MovesResult:
    """What ``custseg moves`` measured and published."""

    evaluation: MoveEvaluation
    #: The as-of dates of the history the model learnt from.
    as_of_dates: tuple[dt.date, ...]
    #: The latest as-of date, whose customers the at-risk list scores.
    scored_as_of_date: dt.date
    #: Customers listed in fct_at_risk_candidates (those not At-Risk already).
    count_candidates: int
    #: The first rows of the list, most likely to lapse first.
    top: list[AtRiskCandidate]
    model_path: Path


def publish_moves(
    settings: Settings, warehouse: Warehouse, progress: Progress = silent, *, top: int = 10
) -> MovesResult:
    """Study the moves of the warehouse's history and publish the model and the at-risk list.

    Returns the evaluation and the ``top`` customers of the list.

    Raises
    ------
    InsufficientDataError
        The history holds fewer than three as-of dates (the message says what to backfill), or
        every customer of the training pairs ended in the same state.
    PublishError
        dbt failed, or SQL and Python scored a customer differently: nothing was published.
    """
    layout = settings.layout
    progress("Reading the history of segment memberships")
    history = read_customer_history(warehouse)
    dates = history.memberships.dates
    progress(
        f"Training the move model on {len(dates)} as-of dates and evaluating it on the last pair"
    )
    study = study_moves(history, AT_RISK, top_share=TOP_SHARE, n_drivers=N_DRIVERS)
    seed_path = layout.published_seed_paths["move_model_terms"]
    progress("Publishing the move model and scoring the at-risk list with dbt")
    with publication(
        layout, warehouse, [seed_path, layout.move_model_path], tables=MOVE_TABLES
    ) as published:
        published.replace_now(seed_path, render_move_model_terms_csv(study.model))
        run_dbt(invocation_for(settings, warehouse), "build", "--select", "move_model_terms+")
        candidates = read_at_risk_candidates(warehouse)
        check_parity(candidates, study.forecast)
        document = move_model_document(study, dates)
        published.stage(layout.move_model_path, canonical_json(document).encode("utf-8"))
    return MovesResult(
        evaluation=study.evaluation,
        as_of_dates=dates,
        scored_as_of_date=study.forecast.as_of_date,
        count_candidates=len(candidates),
        top=candidates[:top],
        model_path=layout.move_model_path,
    )


def read_customer_history(warehouse: Warehouse) -> CustomerHistory:
    """Every row of ``segment_memberships`` with its move features (customer ids as text).

    Raises
    ------
    InsufficientDataError
        Fewer than :data:`MIN_AS_OF_DATES` as-of dates (none at all before the first run).
    """
    names = ("as_of_date", "customer_id", "segment_id", *MOVE_FEATURES)
    if not warehouse.table_exists("segment_memberships"):
        raise InsufficientDataError(
            "The warehouse holds no history of segments (segment_memberships): run `custseg run`, "
            "then fill past dates with `custseg backfill --from DATE --to DATE --every month`."
        )
    relation = warehouse.relation("segment_memberships")
    columns = warehouse.fetch_columns(f"select {', '.join(names)} from {relation}", names)
    history = CustomerHistory.from_arrays(
        [as_date(value) for value in columns["as_of_date"]],
        [str(value) for value in columns["customer_id"]],
        np.asarray(columns["segment_id"], dtype=np.int64),
        np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in MOVE_FEATURES]),
    )
    dates = history.memberships.dates
    if len(dates) < MIN_AS_OF_DATES:
        raise InsufficientDataError(_too_short_message(dates))
    return history


def _too_short_message(dates: Sequence[dt.date]) -> str:
    """What to backfill when the history holds fewer than three as-of dates."""
    held = ", ".join(day.isoformat() for day in dates) or "none"
    last = dates[-1] if dates else None
    command = (
        f"custseg backfill --from {months_after(last, -11).isoformat()} --to "
        f"{last.isoformat()} --every month"
        if last
        else "custseg run`, then `custseg backfill --from DATE --to DATE --every month"
    )
    return (
        f"The history holds {len(dates)} as-of date(s) ({held}); predicting who moves into "
        f"At-Risk needs {MIN_AS_OF_DATES} at least (the model is trained on the earlier pairs "
        f"of dates and checked on the last). Fill past dates first: `{command}`."
    )


def render_move_model_terms_csv(model: MoveModel) -> bytes:
    """The seed ``move_model_terms``: one row per next state and term, the intercept first.

    Floats are written with ``repr`` (the shortest text that reads back as the same double),
    so SQL computes with exactly the model's numbers.
    """
    buffer = io.StringIO()
    buffer.write(header_line("move_model_terms").decode("utf-8"))
    writer = csv.writer(buffer, lineterminator="\n")
    for k, state in enumerate(model.classes):
        name = state_name(state)
        writer.writerow([state, name, 0, "intercept", repr(float(model.intercepts[k])), "", ""])
        for t, term in enumerate(model.terms):
            is_feature = t < len(MOVE_FEATURES)
            writer.writerow(
                [
                    state,
                    name,
                    t + 1,
                    term,
                    repr(float(model.coefficients[k, t])),
                    repr(float(model.scaler_mean[t])) if is_feature else "",
                    repr(float(model.scaler_scale[t])) if is_feature else "",
                ]
            )
    return buffer.getvalue().encode("utf-8")


def move_model_document(study: MoveStudy, as_of_dates: Sequence[dt.date]) -> dict:
    """The model file ``move_model.json``: the model refitted on every pair of dates, its
    out-of-time evaluation and the as-of dates it learnt from (JSON types)."""
    return {
        "kind": _DOCUMENT_KIND,
        "target_segment_id": AT_RISK,
        "target_segment_name": SEGMENT_NAMES[AT_RISK],
        "trained_on_as_of_dates": [day.isoformat() for day in as_of_dates],
        "scored_as_of_date": study.forecast.as_of_date.isoformat(),
        "evaluation": study.evaluation.to_dict(),
        "model": study.model.to_dict(),
    }


def read_at_risk_candidates(warehouse: Warehouse) -> list[AtRiskCandidate]:
    """Every row of ``fct_at_risk_candidates``, by rank."""
    relation = warehouse.relation("fct_at_risk_candidates")
    rows = warehouse.fetch(f"select {', '.join(CANDIDATE_COLUMNS)} from {relation}")
    candidates = [AtRiskCandidate.from_row(row) for row in rows]
    return sorted(candidates, key=lambda candidate: candidate.rank)


def check_parity(candidates: Sequence[AtRiskCandidate], forecast: MoveForecast) -> None:
    """SQL's list must hold exactly the customers Python lists, with the same probability and
    drivers (within :data:`PARITY_TOLERANCE`; two drivers whose contributions tie that closely
    may come in either order).

    Raises
    ------
    PublishError
        Naming the first customers that differ.
    """
    listed = forecast.current_segment != forecast.target_segment_id
    if forecast.target_segment_id not in forecast.classes:
        listed[:] = False
    expected = {
        str(forecast.customer_id[i]): (float(forecast.target_probability[i]), forecast.drivers[i])
        for i in np.flatnonzero(listed)
    }
    found = {c.customer_id: (c.probability, c.drivers) for c in candidates}
    different = sorted(set(expected) ^ set(found))
    different += sorted(
        customer
        for customer in set(expected) & set(found)
        if not _same_score(found[customer], expected[customer])
    )
    if different:
        shown = [(c, found.get(c), expected.get(c)) for c in different[:3]]
        raise PublishError(
            f"The warehouse scored {len(different)} at-risk candidate(s) differently from custseg "
            f"(customer, SQL, Python): {shown}. Nothing was published; please report this with "
            "the move model file."
        )


def _same_score(
    sql: tuple[float, tuple[tuple[str, float], ...]],
    python: tuple[float, tuple[tuple[str, float], ...]],
) -> bool:
    """Same probability and drivers, two near-tied drivers in either order."""
    (p_sql, drivers_sql), (p_python, drivers_python) = sql, python
    if abs(p_sql - p_python) > PARITY_TOLERANCE:
        return False
    if sorted(term for term, _ in drivers_sql) != sorted(term for term, _ in drivers_python):
        return False
    return all(
        abs(c_sql - c_python) <= PARITY_TOLERANCE * max(1.0, abs(c_python))
        and (t_sql == t_python or abs(c_sql - c_python) <= PARITY_TOLERANCE)
        for (t_sql, c_sql), (t_python, c_python) in zip(drivers_sql, drivers_python, strict=True)
    )
