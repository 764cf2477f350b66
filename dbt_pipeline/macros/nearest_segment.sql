{#-
    Scoring with a published model in SQL, shared by customer_segment_scores (the run's
    customers) and segment_scores_by_as_of_date (a backfill's as-of dates): the transforms of the
    ML step (recency as is, ln(1 + orders), ln(1 + average order value)), the model's scaler,
    and the nearest centroid by squared Euclidean distance, ties to the lowest segment id.

    `features` has one row per customer (and as-of date when `by_as_of_date`), `parameters` one
    row per segment (and as-of date when `by_as_of_date`: each date is scored with its own
    model). Returns every feature column with the chosen segment and its squared distance.
-#}
{% macro nearest_segment(features, parameters, by_as_of_date=false) -%}

    with

    distances as (

        select
            features.*,
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

        from {{ features }} as features
        {%- if by_as_of_date %}
        inner join {{ parameters }} as parameters
            on features.as_of_date = parameters.as_of_date
        {%- else %}
        cross join {{ parameters }} as parameters
        {%- endif %}

    ),

    ranked as (

        select
            *,
            row_number() over (
                partition by {% if by_as_of_date %}as_of_date, {% endif %}customer_id
                order by squared_distance, segment_id
            ) as distance_rank

        from distances

    )

    select * from ranked
    where distance_rank = 1

{%- endmacro %}
