{#-
    How customers moved between segments: for each pair of consecutive as-of dates of the
    history ('period' rows) and pooled over the last `transition_window_periods` pairs ('pooled'
    rows), the customers who went from each segment to each segment and the probability of the
    move (customers / customers of the from-segment). Two states are not segments: -1 'Not yet a
    customer' (first ordered between the two dates) and -2 'Left' (at the earlier date, absent
    at the later one, e.g. erased from the customer file). Each from-row sums to one.
-#}
{%- set window = var('transition_window_periods') | int %}

with

memberships as (

    select
        as_of_date,
        customer_id,
        segment_id,
        segment_name

    from {{ ref('segment_memberships') }}

),

as_of_dates as (

    select distinct as_of_date from memberships

),

consecutive_dates as (

    select
        as_of_date as from_as_of_date,
        lead(as_of_date) over (order by as_of_date) as to_as_of_date,
        row_number() over (order by as_of_date desc) as pairs_back

    from as_of_dates

),

date_pairs as (

    -- pairs_back: 1 for the latest pair (its from-date is the second latest date).
    select
        from_as_of_date,
        to_as_of_date,
        pairs_back - 1 as pairs_back

    from consecutive_dates
    where to_as_of_date is not null

),

pair_customers as (

    select distinct
        date_pairs.from_as_of_date,
        date_pairs.to_as_of_date,
        date_pairs.pairs_back,
        memberships.customer_id

    from date_pairs
    inner join memberships
        on memberships.as_of_date in (date_pairs.from_as_of_date, date_pairs.to_as_of_date)

),

moves as (

    select
        pair_customers.from_as_of_date,
        pair_customers.to_as_of_date,
        pair_customers.pairs_back,
        coalesce(earlier.segment_id, -1) as from_segment_id,
        coalesce(earlier.segment_name, 'Not yet a customer') as from_segment_name,
        coalesce(later.segment_id, -2) as to_segment_id,
        coalesce(later.segment_name, 'Left') as to_segment_name

    from pair_customers
    left join memberships as earlier
        on
            pair_customers.customer_id = earlier.customer_id
            and pair_customers.from_as_of_date = earlier.as_of_date
    left join memberships as later
        on
            pair_customers.customer_id = later.customer_id
            and pair_customers.to_as_of_date = later.as_of_date

),

period_counts as (

    select
        'period' as transition_kind,
        from_as_of_date,
        to_as_of_date,
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name,
        count(*) as count_customers

    from moves
    group by
        from_as_of_date,
        to_as_of_date,
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name

),

pooled_counts as (

    select
        'pooled' as transition_kind,
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name,
        count(*) as count_customers

    from moves
    where pairs_back < {{ window }}
    group by
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name

),

pooled_windows as (

    -- One window for every pooled row: the first and last date of the pairs pooled.
    select
        min(from_as_of_date) as from_as_of_date,
        max(to_as_of_date) as to_as_of_date

    from moves
    where pairs_back < {{ window }}

),

pooled_in_window as (

    select
        pooled_counts.transition_kind,
        pooled_windows.from_as_of_date,
        pooled_windows.to_as_of_date,
        pooled_counts.from_segment_id,
        pooled_counts.from_segment_name,
        pooled_counts.to_segment_id,
        pooled_counts.to_segment_name,
        pooled_counts.count_customers

    from pooled_counts
    cross join pooled_windows

),

all_counts as (

    select * from period_counts
    union all
    select * from pooled_in_window

),

final as (

    select
        transition_kind,
        from_as_of_date,
        to_as_of_date,
        cast(from_segment_id as integer) as from_segment_id,
        from_segment_name,
        cast(to_segment_id as integer) as to_segment_id,
        to_segment_name,
        cast(count_customers as {{ dbt.type_bigint() }}) as count_customers,
        cast(count_customers as {{ type_amount() }}) / sum(count_customers) over (
            partition by transition_kind, from_as_of_date, to_as_of_date, from_segment_id
        ) as probability

    from all_counts

)

select * from final
