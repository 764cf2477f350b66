"""What the page shows about drift: the latest as-of date against the training data and the
previous date, each figure judged against its threshold.

The thresholds are the ``drift_*`` settings (:class:`DriftThresholds`), passed in where the
report is drawn. The warehouse's figures (``fct_feature_drift``, ``fct_segment_drift``) are
turned into the drift library's :class:`DriftReport` objects, so the page raises exactly the
alarms ``custseg drift`` raises.
"""

from __future__ import annotations

from collections.abc import Mapping

from custseg.monitoring.drift import PREVIOUS_RUN, TRAINING_DATA
from custseg.monitoring.drift_report import DriftAlarm, DriftReport, DriftThresholds
from custseg.report.charts import Bar, bar_chart, segment_color
from custseg.report.history_data import (
    AGAINST_PREVIOUS,
    AGAINST_TRAINING,
    DRIFT_FEATURES,
    FEATURE_DRIFT,
    SEGMENT_DRIFT,
    DriftFacts,
    HistoryFacts,
    SegmentDrift,
)
from custseg.report.history_sections import unavailable_message
from custseg.report.text import percent, thousands
from custseg.report.verdicts import STRONG_BAD, STRONG_GOOD

#: How the page names the clustering features.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Days since the last order",
    "count_orders": "Orders",
    "avg_order_value": "Average order value",
}
# Column heads of a segment centre's movement per feature, and its decimals (days, orders, money).
MOVEMENT_LABELS: dict[str, str] = {
    "recency_days": "days since the last order",
    "count_orders": "orders",
    "avg_order_value": "order value",
}
# Decimals of a segment centre's movement per feature (days, orders, money).
MOVEMENT_DIGITS: dict[str, int] = {"recency_days": 1, "count_orders": 2, "avg_order_value": 2}
# The colour of a drift figure within its threshold, and past it.
WITHIN, PAST = STRONG_GOOD, STRONG_BAD


def drift(history: HistoryFacts, thresholds: DriftThresholds) -> dict:
    """The latest as-of date's drift against the training data and the previous date, each
    figure judged against its threshold (the ``drift_*`` settings), alarms first."""
    for table in (FEATURE_DRIFT, SEGMENT_DRIFT):
        if table in history.unavailable:
            return {"message": unavailable_message(history, table), "as_of": None}
    facts = history.drift
    if facts is None:
        return {
            "message": f"{FEATURE_DRIFT} and {SEGMENT_DRIFT} are empty: `custseg run` fills "
            "them with the history.",
            "as_of": None,
        }
    training, previous = drift_reports(facts)
    names = {s.segment_id: s.segment_name for s in facts.segments}
    alarms = [(AGAINST_TRAINING, alarm) for alarm in training.alarms(thresholds)] + [
        (AGAINST_PREVIOUS, alarm) for alarm in (previous.alarms(thresholds) if previous else ())
    ]
    previous_date = next(
        (s.previous_as_of_date for s in facts.segments if s.previous_as_of_date), None
    )
    charts = [psi_chart("training", "against the model's training data", training, thresholds)]
    if previous is not None:
        charts.append(
            psi_chart(
                "previous", f"against the previous as-of date {previous_date}", previous, thresholds
            )
        )
    kept = previous.kept_share if previous else None
    return {
        "message": None,
        "as_of": facts.as_of_date,
        "previous": previous_date,
        "alarms": [alarm_text(against, alarm, names) for against, alarm in alarms],
        "thresholds": {
            "psi": f"{thresholds.psi_alarm:g}",
            "share_shift": points(thresholds.share_shift_alarm, with_sign=False),
            "kept_share": percent(thresholds.kept_share_min),
        },
        "charts": charts,
        "segments": [segment_drift_row(s, thresholds) for s in facts.segments],
        "kept": None
        if kept is None
        else {"text": percent(kept), "alarm": kept < thresholds.kept_share_min},
        "movement_labels": [MOVEMENT_LABELS[f] for f in DRIFT_FEATURES],
    }


def drift_reports(facts: DriftFacts) -> tuple[DriftReport, DriftReport | None]:
    """The warehouse's figures as the drift library's reports, so that the page raises the same
    alarms as ``custseg drift`` (None against the previous date at the history's first)."""
    n_customers = sum(s.customers for s in facts.segments)
    training = DriftReport(
        against=TRAINING_DATA,
        n_customers=n_customers,
        n_reference_customers=None,
        feature_psi={
            f.feature: f.psi for f in facts.features if f.compared_with == AGAINST_TRAINING
        },
        segment_share_shift={
            s.segment_id: s.shift_from_training
            for s in facts.segments
            if s.shift_from_training is not None
        },
        kept_share=None,
        n_customers_in_both=None,
        centroid_movement={},
    )
    on_previous = [f for f in facts.features if f.compared_with == AGAINST_PREVIOUS]
    shifts = {s.segment_id: s.share_shift for s in facts.segments if s.share_shift is not None}
    if not on_previous and not shifts:
        return training, None
    kept = next((s.kept_share for s in facts.segments if s.kept_share is not None), None)
    previous = DriftReport(
        against=PREVIOUS_RUN,
        n_customers=n_customers,
        n_reference_customers=None,
        feature_psi={f.feature: f.psi for f in on_previous},
        segment_share_shift=shifts,
        kept_share=kept,
        n_customers_in_both=None,
        centroid_movement={
            s.segment_id: {f: v for f, v in s.movement.items() if v is not None}
            for s in facts.segments
        },
    )
    return training, previous


def psi_chart(key: str, against: str, report: DriftReport, thresholds: DriftThresholds) -> dict:
    """A bar per feature's PSI, the alarm threshold as a dashed line."""
    bars = []
    for feature in DRIFT_FEATURES:
        if feature not in report.feature_psi:
            continue
        psi = report.feature_psi[feature]
        alarm = psi > thresholds.psi_alarm
        bars.append(
            Bar(
                FEATURE_LABELS[feature],
                PAST if alarm else WITHIN,
                psi,
                f"{psi:.3f}" + (" ▲ alarm" if alarm else ""),
            )
        )
    chart = None
    if bars:
        chart = bar_chart(
            f"chart-psi-{key}",
            f"Population stability index {against}",
            f"PSI of each clustering feature {against}; the dashed line is the alarm threshold "
            f"{thresholds.psi_alarm:g} (drift_psi_alarm). Bars past it are orange-red and "
            "marked alarm.",
            bars,
            axis_format=lambda v: f"{v:g}",
            reference=(thresholds.psi_alarm, f"alarm above {thresholds.psi_alarm:g}"),
        )
    return {"key": key, "against": against, "chart": chart}


def segment_drift_row(s: SegmentDrift, thresholds: DriftThresholds) -> dict:
    """One segment's share, its shifts (each judged against the threshold) and centre moves."""
    limit = thresholds.share_shift_alarm

    def shift(value: float | None) -> dict:
        if value is None:
            return {"text": "n/a", "alarm": False}
        return {"text": points(value), "alarm": abs(value) > limit}

    return {
        "segment_id": s.segment_id,
        "name": s.segment_name,
        "color": segment_color(s.segment_id),
        "customers": thousands(s.customers),
        "share": percent(s.share),
        "previous": shift(s.share_shift),
        "training": shift(s.shift_from_training),
        "movement": [signed(s.movement.get(f), MOVEMENT_DIGITS[f]) for f in DRIFT_FEATURES],
    }


def alarm_text(against: str, alarm: DriftAlarm, names: Mapping[int, str]) -> str:
    """An alarm in words, naming the segment and the reference."""
    if alarm.measure == "psi":
        what = (
            f"PSI of {FEATURE_LABELS.get(alarm.subject, alarm.subject).lower()} is "
            f"{alarm.value:.3f}, above {alarm.threshold:g}"
        )
    elif alarm.measure == "segment_share_shift":
        name = names.get(int(alarm.subject), f"segment {alarm.subject}")
        what = (
            f"the share of {name} moved by {points(alarm.value)}, more than "
            f"{points(alarm.threshold, with_sign=False)}"
        )
    else:
        what = (
            f"{percent(alarm.value)} of the customers kept their segment, fewer than "
            f"{percent(alarm.threshold)}"
        )
    return f"Against the {against}: {what}."


def points(share: float, *, with_sign: bool = True) -> str:
    """A difference of two shares in percentage points: ``+3.5 pts`` (``0.0 pts`` when it
    rounds to nothing, never ``-0.0``); a threshold is written without a sign."""
    return f"{signed(share * 100, 1) if with_sign else f'{share * 100:.1f}'} pts"


def signed(value: float | None, digits: int) -> str:
    """``value`` with its sign and ``digits`` decimals; ``0.0`` when it rounds to zero."""
    if value is None:
        return "n/a"
    rounded = round(value, digits)
    return f"{0.0:,.{digits}f}" if rounded == 0 else f"{rounded:+,.{digits}f}"
