{#-
    The segment mix projected one period ahead from the pooled transition matrix
    (fct_segment_transitions): for each segment, the customers of every segment at the latest
    as-of date times their pooled probability of moving into it, plus the new customers a period
    brings (their mean over the pooled pairs) times the pooled probability that a new customer
    starts there. Customers projected to leave (-2) are not counted. The projected date is the
    latest as-of date plus the mean length of the pooled periods.
-#}

with

transitions as (

    select * from {{ ref('fct_segment_transitions') }}

),

memberships as (

    select * from {{ ref('segment_memberships') }}

),

latest as (

    select max(as_of_date) as as_of_date from memberships

),

latest_counts as (

    select
        memberships.segment_id,
        memberships.segment_name,
        count(*) as count_customers

    from memberships
    inner join latest
        on memberships.as_of_date = latest.as_of_date
    group by memberships.segment_id, memberships.segment_name

),

pooled as (

    select * from transitions
    where transition_kind = 'pooled'

),

pooled_window as (

    select min(from_as_of_date) as from_as_of_date
    from pooled

),

periods as (

    select
        count(distinct transitions.from_as_of_date) as count_periods,
        min(transitions.from_as_of_date) as first_as_of_date,
        max(transitions.to_as_of_date) as last_as_of_date

    from transitions
    cross join pooled_window
    where
        transitions.transition_kind = 'period'
        and transitions.from_as_of_date >= pooled_window.from_as_of_date

),

new_per_period as (

    select
        sum(transitions.count_customers) * 1.0
        / nullif(max(periods.count_periods), 0) as customers

    from transitions
    cross join periods
    where
        transitions.transition_kind = 'period'
        and transitions.from_segment_id = -1
        and transitions.from_as_of_date >= periods.first_as_of_date

),

arrivals as (

    -- Existing customers moving (or staying) into each segment.
    select
        pooled.to_segment_id as segment_id,
        pooled.to_segment_name as segment_name,
        sum(latest_counts.count_customers * pooled.probability) as customers

    from latest_counts
    inner join pooled
        on latest_counts.segment_id = pooled.from_segment_id
    group by pooled.to_segment_id, pooled.to_segment_name

    union all

    -- New customers, as many as a pooled period brought on average.
    select
        pooled.to_segment_id as segment_id,
        pooled.to_segment_name as segment_name,
        new_per_period.customers * pooled.probability as customers

    from pooled
    cross join new_per_period
    where pooled.from_segment_id = -1

),

projected as (

    select
        segment_id,
        segment_name,
        sum(customers) as projected_customers

    from arrivals
    where segment_id >= 0
    group by segment_id, segment_name

),

segments as (

    select
        segment_id,
        segment_name
    from latest_counts
    union
    select
        segment_id,
        segment_name
    from projected

),

final as (

    select
        latest.as_of_date,
        cast(
            {{ dbt.dateadd(
                'day',
                'cast(round(' ~ dbt.datediff('periods.first_as_of_date', 'periods.last_as_of_date', 'day')
                ~ ' * 1.0 / nullif(periods.count_periods, 0)) as integer)',
                'latest.as_of_date'
            ) }} as date
        ) as projected_as_of_date,
        cast(segments.segment_id as integer) as segment_id,
        segments.segment_name,
        cast(coalesce(latest_counts.count_customers, 0) as {{ dbt.type_bigint() }})
            as count_customers,
        cast(coalesce(latest_counts.count_customers, 0) as {{ type_amount() }})
        / nullif(sum(coalesce(latest_counts.count_customers, 0)) over (), 0) as customer_share,
        cast(coalesce(projected.projected_customers, 0) as {{ type_amount() }})
            as projected_customers,
        cast(coalesce(projected.projected_customers, 0) as {{ type_amount() }})
        / nullif(sum(coalesce(projected.projected_customers, 0)) over (), 0) as projected_share

    from segments
    left join latest_counts
        on segments.segment_id = latest_counts.segment_id
    left join projected
        on segments.segment_id = projected.segment_id
    cross join latest
    cross join periods
    where periods.count_periods > 0

)

select * from final
