{#-
    Every customer scored in SQL with the published model: the transforms of the ML step
    (recency as is, ln(1 + orders), ln(1 + average order value)), the model's scaler, and the
    nearest centroid by squared Euclidean distance, ties to the lowest segment id. Equal to
    Python's scoring customer by customer (see tests/assert_warehouse_scores_match_published_segments.sql),
    so large runs can score millions of customers here instead of passing them through a seed.
-#}
with

features as (

    select * from {{ ref('customer_features') }}

),

parameters as (

    select * from {{ ref('segment_model_parameters') }}

),

distances as (

    select
        features.customer_id,
        parameters.segment_id,
        parameters.segment_name,
        power(
            (
                cast(features.recency_days as {{ type_amount() }})
                - parameters.recency_days_mean
            )
            / parameters.recency_days_scale - parameters.recency_days_centroid,
            2
        )
        + power(
            (
                ln(1 + cast(features.count_orders as {{ type_amount() }}))
                - parameters.count_orders_mean
            )
            / parameters.count_orders_scale - parameters.count_orders_centroid,
            2
        )
        + power(
            (ln(1 + features.avg_order_value) - parameters.avg_order_value_mean)
            / parameters.avg_order_value_scale - parameters.avg_order_value_centroid,
            2
        ) as squared_distance

    from features
    cross join parameters

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id order by squared_distance, segment_id
        ) as distance_rank

    from distances

)

select
    customer_id,
    segment_id,
    segment_name,
    squared_distance

from ranked
where distance_rank = 1
