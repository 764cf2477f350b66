"""What the page shows about the history: shares over time, last period's moves, at-risk list.

Each function turns :class:`~custseg.report.history_data.HistoryFacts` into the template context
of one section, as :mod:`custseg.report.sections` does for the mart (the drift section is
:mod:`custseg.report.drift_section`). A section whose table is
missing (a warehouse an older custseg built) or empty, or whose history is too short, gets a
``message`` saying why and which command fills it, instead of its figures.
"""

from __future__ import annotations

from collections.abc import Mapping

from custseg.catalogue import AT_RISK, SEGMENT_NAMES
from custseg.monitoring.at_risk import AtRiskCandidate
from custseg.monitoring.transitions import LEFT_STATE, NEW_STATE, STATE_NAMES
from custseg.report.charts import ink_class, segment_color
from custseg.report.history_charts import HEAT_STOPS, ShareSeries, heat_color, share_lines_chart
from custseg.report.history_data import (
    AT_RISK_CANDIDATES,
    MEMBERSHIPS,
    TRANSITIONS,
    HistoryFacts,
    Transition,
)
from custseg.report.sections import legend_key
from custseg.report.text import Money, percent, thousands

#: Moves between two segments the transitions section names in words, the largest first.
NAMED_MOVES = 3


def shares_over_time(history: HistoryFacts) -> dict:
    """Each segment's share of customers per as-of date: a line chart and its numbers."""
    if MEMBERSHIPS in history.unavailable:
        return {"message": unavailable_message(history, MEMBERSHIPS), "chart": None}
    dates = history.as_of_dates
    if len(dates) < 2:
        return {"message": history_starts_message(dates), "chart": None}
    counts = {(c.as_of_date, c.segment_id): c.customers for c in history.counts or ()}
    totals = {day: sum(n for (d, _), n in counts.items() if d == day) for day in dates}
    names = {c.segment_id: c.segment_name for c in history.counts or ()}  # the latest name
    ids = sorted(names)
    series = [
        ShareSeries(
            names[sid],
            segment_color(sid),
            [counts.get((day, sid), 0) / totals[day] for day in dates],
        )
        for sid in ids
    ]
    chart = share_lines_chart(
        "chart-shares-over-time",
        "Share of customers in each segment per as-of date",
        f"One line per segment, from {dates[0]} to {dates[-1]} ({len(dates)} as-of dates); "
        "each line ends in the segment's share at the latest date.",
        dates,
        series,
    )
    rows = [
        {
            "as_of_date": day,
            "customers": totals[day],
            "customers_text": thousands(totals[day]),
            "cells": [
                {
                    "segment_id": sid,
                    "customers": counts.get((day, sid), 0),
                    "text": thousands(counts.get((day, sid), 0)),
                    "share": percent(counts.get((day, sid), 0) / totals[day]),
                }
                for sid in ids
            ],
        }
        for day in dates
    ]
    return {
        "message": None,
        "chart": chart,
        "legend": [legend_key(names[sid], segment_color(sid)) for sid in ids],
        "segments": [{"name": names[sid], "color": segment_color(sid)} for sid in ids],
        "rows": rows,
        "first": dates[0],
        "last": dates[-1],
        "n_dates": len(dates),
    }


def transitions(history: HistoryFacts) -> dict:
    """The latest period's transition matrix as a heat map, and its largest moves in words."""
    if TRANSITIONS in history.unavailable:
        return {"message": unavailable_message(history, TRANSITIONS), "matrix": None}
    period = history.transitions
    if period is None:
        dates = history.as_of_dates
        message = (
            "Moves need two as-of dates in the history. " + history_starts_message(dates)
            if len(dates) < 2
            else f"{TRANSITIONS} holds no moves between consecutive as-of dates yet: rebuild it "
            "with `custseg run`."
        )
        return {"message": message, "matrix": None}
    cells = {(c.from_id, c.to_id): c for c in period.cells}
    names = {c.from_id: c.from_name for c in period.cells} | {
        c.to_id: c.to_name for c in period.cells
    }
    segments = sorted({i for pair in cells for i in pair if i >= 0})
    # Both outside states always, so that the matrix says so when nobody arrived or left.
    from_states, to_states = [*segments, NEW_STATE], [*segments, LEFT_STATE]
    rows = []
    for f in from_states:
        total = sum(c.customers for (g, _), c in cells.items() if g == f)
        row_cells = []
        for t in to_states:
            cell = cells.get((f, t))
            p = cell.probability if cell else 0.0
            color = heat_color(p)
            row_cells.append(
                {
                    "to_id": t,
                    "customers": cell.customers if cell else 0,
                    "probability": f"{p:.6f}",
                    "count_text": thousands(cell.customers) if cell else "–",
                    "share_text": percent(p) if cell else "",
                    "color": color,
                    "ink": ink_class(color),
                    "stay": f == t,
                    "title": f"{state_name(f, names)} → {state_name(t, names)}: "
                    + (
                        f"{thousands(cell.customers)} customers, {percent(p)} of the row"
                        if cell
                        else "nobody"
                    ),
                }
            )
        rows.append(
            {
                "from_id": f,
                "name": state_name(f, names),
                "color": segment_color(f) if f >= 0 else None,
                "customers": thousands(total),
                "cells": row_cells,
            }
        )
    columns = [
        {"to_id": t, "name": state_name(t, names), "color": segment_color(t) if t >= 0 else None}
        for t in to_states
    ]
    scale = [legend_key(f"{i * 25}%", color) for i, color in enumerate(HEAT_STOPS)]
    return {
        "message": None,
        "from": period.from_as_of_date,
        "to": period.to_as_of_date,
        "columns": columns,
        "rows": rows,
        "scale": scale,
        "summary": transition_summary(period.cells, names),
    }


def transition_summary(cells: tuple[Transition, ...], names: Mapping[int, str]) -> list[str]:
    """Who kept their segment, arrived and left, and the largest moves between segments."""
    known = [c for c in cells if c.from_id >= 0]
    in_both = [c for c in known if c.to_id >= 0]
    kept = sum(c.customers for c in in_both if c.from_id == c.to_id)
    both = sum(c.customers for c in in_both)
    lines = []
    if both:
        lines.append(
            f"{thousands(kept)} of the {thousands(both)} customers at both dates kept their "
            f"segment ({percent(kept / both)})."
        )
    new = sum(c.customers for c in cells if c.from_id == NEW_STATE)
    left = sum(c.customers for c in cells if c.to_id == LEFT_STATE)
    if new:
        lines.append(f"{thousands(new)} new {customers(new)} arrived.")
    if left:
        lines.append(f"{thousands(left)} {customers(left)} left the history.")
    moves = sorted(
        (c for c in in_both if c.from_id != c.to_id),
        key=lambda c: (-c.customers, c.from_id, c.to_id),
    )
    for c in moves[:NAMED_MOVES]:
        lines.append(
            f"{thousands(c.customers)} {names[c.from_id]} became {names[c.to_id]} "
            f"({percent(c.probability)} of them)."
        )
    return lines


def at_risk(history: HistoryFacts, money: Money) -> dict:
    """The customers most likely to be At-Risk next, with their main drivers."""
    target = SEGMENT_NAMES[AT_RISK]
    if AT_RISK_CANDIDATES in history.unavailable:
        return {"message": unavailable_message(history, AT_RISK_CANDIDATES), "rows": []}
    facts = history.at_risk
    if facts is None or not facts.top:
        return {
            "message": "No at-risk list yet: `custseg moves` learns from the history who moves "
            f"into {target} and publishes the list (it needs three as-of dates; fill past "
            "dates with `custseg backfill`). Every later run and backfill rescores it.",
            "rows": [],
        }
    rows = [
        {
            "rank": c.rank,
            "customer_id": c.customer_id,
            "segment_id": c.segment_id,
            "segment": c.segment_name,
            "color": segment_color(c.segment_id),
            "probability": f"{c.probability:.6f}",
            "probability_text": percent(c.probability),
            "drivers": [
                {
                    "text": driver_text(term, c, money),
                    "title": f"+{value:.2f} to the log-odds of {target}",
                }
                for term, value in c.drivers
            ],
        }
        for c in facts.top
    ]
    return {
        "message": None,
        "as_of": facts.as_of_date,
        "target": target,
        "count": thousands(facts.count_candidates),
        "shown": len(rows),
        "rows": rows,
    }


def driver_text(term: str, candidate: AtRiskCandidate, money: Money) -> str:
    """A driver of the move model in words, with the customer's own value."""
    if term == "recency_days":
        return f"{candidate.recency_days:,.0f} days since the last order"
    if term == "count_orders":
        return f"{candidate.count_orders:,.0f} orders"
    if term == "avg_order_value":
        return f"average order {money.amount(candidate.avg_order_value)}"
    prefix = "current_segment_"
    if term.startswith(prefix) and term[len(prefix) :].isdigit():
        segment = int(term[len(prefix) :])
        return f"now in {SEGMENT_NAMES.get(segment, f'segment {segment}')}"
    return term


def unavailable_message(history: HistoryFacts, table: str) -> str:
    """Why a history section is missing: an older warehouse, or a table that cannot be read."""
    reason = history.unavailable[table]
    if reason == "not in the warehouse":
        return (
            f"{table} is not in this warehouse (it was built by an older custseg): run "
            "`custseg run` to build the history models."
        )
    return f"{table} {reason}."


def history_starts_message(dates: tuple[str, ...]) -> str:
    """The history has at most one as-of date: how to add past ones."""
    if not dates:
        return (
            "The history is empty: every `custseg run` adds its as-of date, and `custseg "
            "backfill --from DATE --to DATE --every month` adds past ones."
        )
    return (
        f"The history starts here: it holds one as-of date ({dates[-1]}). Every `custseg run` "
        "adds its as-of date; to see the months before, fill them in with `custseg backfill "
        f"--from DATE --to {dates[-1]} --every month` (DATE the first month start to show)."
    )


def customers(n: int) -> str:
    return "customer" if n == 1 else "customers"


def state_name(state: int, names: Mapping[int, str]) -> str:
    return STATE_NAMES.get(state) or names.get(state) or SEGMENT_NAMES.get(state, str(state))
