"""The seeds a run publishes into the dbt project: their names and their columns.

dbt refuses to parse a project whose models ``ref()`` a seed that has no file, and a fresh
clone has none: the published seeds hold customer data, so they live in a git-ignored folder
(:attr:`~custseg.settings.layout.ProjectLayout.published_seeds_dir`). Before dbt runs, custseg
writes a header-only file for each one missing (:mod:`custseg.dbt.placeholders`), with the
headers here; :mod:`custseg.publish.seeds` renders the rows under the same headers. They sit in
the core because both stages need them and dbt's stage comes before publishing.
"""

from __future__ import annotations

SEGMENTS_HEADER = ("customer_id", "segment_id", "segment_name")

DEFINITIONS_HEADER = (
    "segment_id",
    "segment_name",
    "segment_description",
    "recommended_action",
    "naming_score",
    "name_check_rule",
    "name_check_passed",
    "name_check_numbers",
    "centroid_recency_days",
    "centroid_count_orders",
    "centroid_avg_order_value",
    "mean_lifetime_revenue",
    "count_customers",
    "customer_share",
)

PARAMETERS_HEADER = ("segment_id", "segment_name") + tuple(
    f"{feature}_{part}"
    for feature in ("recency_days", "count_orders", "avg_order_value")
    for part in ("mean", "scale", "centroid")
)

#: The models of a backfill's as-of dates (``custseg backfill``): the parameters of
#: ``segment_model_parameters`` for each as-of date (the same model at every date, or one retrained
#: per date with ``--retrain``), scored in SQL by ``segment_scores_by_as_of_date``.
BACKFILL_PARAMETERS_HEADER = ("as_of_date",) + PARAMETERS_HEADER

#: The drift reference's bins (custseg.publish.seeds.render_feature_bins_csv): per clustering
#: feature and bin, its edges (empty for an open end) and the training customers' share.
FEATURE_BINS_HEADER = (
    "feature_name",
    "bin_index",
    "lower_edge",
    "upper_edge",
    "reference_share",
)

#: The move model of ``custseg moves`` (custseg.monitoring.move_model), one row per next state and
#: term: the intercept (term_index 0), the three features (their scaler's mean and scale of
#: ``ln(1 + value)`` on the row) and a one-hot term per current segment, in the model's term order.
#: ``fct_at_risk_candidates`` scores the latest as-of date of the history with it in SQL.
MOVE_MODEL_TERMS_HEADER = (
    "next_state",
    "next_state_name",
    "term_index",
    "term",
    "coefficient",
    "scaler_mean",
    "scaler_scale",
)

#: Every published seed by name (its file is ``<name>.csv``), with its header.
PUBLISHED_SEEDS: dict[str, tuple[str, ...]] = {
    "customer_segments": SEGMENTS_HEADER,
    "segment_definitions": DEFINITIONS_HEADER,
    "segment_model_parameters": PARAMETERS_HEADER,
    "backfill_model_parameters": BACKFILL_PARAMETERS_HEADER,
    "segment_feature_bins": FEATURE_BINS_HEADER,
    "move_model_terms": MOVE_MODEL_TERMS_HEADER,
}


def header_line(name: str) -> bytes:
    """The header-only file of the published seed ``name`` (LF ending, as the seeds are)."""
    return (",".join(PUBLISHED_SEEDS[name]) + "\n").encode("utf-8")
