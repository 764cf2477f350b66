{#-
    How each segment moved at every as-of date of the history, against the previous as-of date
    and the published model's training data (segment_definitions): its share of customers and
    the shift of that share, the share of all customers present at both dates who kept their
    segment, and the segment's centre in original units and how far it moved. A centre is the
    mean in the clustering space turned back into original units, as the model's centroids are:
    recency_days as is, count_orders and avg_order_value as exp(mean(ln(1 + x))) - 1. The same
    formulas as custseg.monitoring.drift (`custseg drift`).
-#}

with

memberships as (

    select * from {{ ref('segment_memberships') }}

),

definitions as (

    select * from {{ ref('segment_definitions') }}

),

customers_per_date as (

    select
        as_of_date,
        count(*) as count_customers

    from memberships
    group by as_of_date

),

previous_dates as (

    select
        as_of_date,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date

    from customers_per_date

),

segments as (

    select
        memberships.as_of_date,
        memberships.segment_id,
        memberships.segment_name,
        count(*) as count_customers,
        avg(cast(memberships.recency_days as {{ type_amount() }})) as centre_recency_days,
        exp(avg(ln(1 + cast(memberships.count_orders as {{ type_amount() }})))) - 1
            as centre_count_orders,
        exp(avg(ln(1 + memberships.avg_order_value))) - 1 as centre_avg_order_value

    from memberships
    group by memberships.as_of_date, memberships.segment_id, memberships.segment_name

),

kept as (

    -- Customers at both a date and the previous one, and how many kept their segment.
    select
        previous_dates.as_of_date,
        count(*) as count_in_both,
        sum(case when now.segment_id = earlier.segment_id then 1 else 0 end) as count_kept

    from previous_dates
    inner join memberships as now
        on previous_dates.as_of_date = now.as_of_date
    inner join memberships as earlier
        on
            previous_dates.previous_as_of_date = earlier.as_of_date
            and now.customer_id = earlier.customer_id
    group by previous_dates.as_of_date

),

final as (

    select
        segments.as_of_date,
        cast(segments.segment_id as integer) as segment_id,
        segments.segment_name,
        cast(segments.count_customers as {{ dbt.type_bigint() }}) as count_customers,
        cast(segments.count_customers as {{ type_amount() }}) / customers_per_date.count_customers
            as customer_share,
        previous_dates.previous_as_of_date,
        cast(coalesce(previous_segments.count_customers, 0) as {{ type_amount() }})
        / previous_customers.count_customers as previous_share,
        cast(segments.count_customers as {{ type_amount() }}) / customers_per_date.count_customers
        - cast(coalesce(previous_segments.count_customers, 0) as {{ type_amount() }})
        / previous_customers.count_customers as share_shift,
        cast(coalesce(definitions.customer_share, 0) as {{ type_amount() }}) as training_share,
        cast(segments.count_customers as {{ type_amount() }}) / customers_per_date.count_customers
        - cast(coalesce(definitions.customer_share, 0) as {{ type_amount() }})
            as share_shift_from_training,
        cast(kept.count_kept as {{ type_amount() }}) / kept.count_in_both as kept_share,
        segments.centre_recency_days,
        segments.centre_count_orders,
        segments.centre_avg_order_value,
        segments.centre_recency_days - previous_segments.centre_recency_days
            as movement_recency_days,
        segments.centre_count_orders - previous_segments.centre_count_orders
            as movement_count_orders,
        segments.centre_avg_order_value - previous_segments.centre_avg_order_value
            as movement_avg_order_value

    from segments
    inner join customers_per_date
        on segments.as_of_date = customers_per_date.as_of_date
    inner join previous_dates
        on segments.as_of_date = previous_dates.as_of_date
    left join customers_per_date as previous_customers
        on previous_dates.previous_as_of_date = previous_customers.as_of_date
    left join segments as previous_segments
        on
            previous_dates.previous_as_of_date = previous_segments.as_of_date
            and segments.segment_id = previous_segments.segment_id
    left join definitions
        on segments.segment_id = definitions.segment_id
    left join kept
        on segments.as_of_date = kept.as_of_date

)

select * from final
