{#-
    Every customer at every as-of date of a backfill (customer_features_by_as_of_date) scored in
    SQL with that date's model in the backfill_model_parameters seed (the published model at
    every date, or one retrained per date with `custseg backfill --retrain`), by the same macro
    as customer_segment_scores. The features scored are kept beside the segment: the history
    records them. Empty outside a backfill.
-#}
with

scored as (

    {{ nearest_segment(
        features=ref('customer_features_by_as_of_date'),
        parameters=ref('backfill_model_parameters'),
        by_as_of_date=true,
    ) | indent(4) }}

)

select
    as_of_date,
    customer_id,
    segment_id,
    segment_name,
    recency_days,
    count_orders,
    lifetime_revenue,
    avg_order_value,
    squared_distance

from scored
