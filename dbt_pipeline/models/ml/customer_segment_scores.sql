{#-
    Every customer scored in SQL with the published model (the macro nearest_segment: the
    transforms of the ML step, the model's scaler, the nearest centroid). Equal to Python's
    scoring customer by customer (see tests/assert_warehouse_scores_match_published_segments.sql),
    so large runs can score millions of customers here instead of passing them through a seed.
-#}
with

scored as (

    {{ nearest_segment(
        features=ref('customer_features'),
        parameters=ref('segment_model_parameters'),
    ) | indent(4) }}

)

select
    customer_id,
    segment_id,
    segment_name,
    squared_distance

from scored
