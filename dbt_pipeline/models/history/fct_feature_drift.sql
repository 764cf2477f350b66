{#-
    Population stability index of every clustering feature at every as-of date of the history,
    against the published model's training data and against the previous as-of date. Both sides
    are counted in the bins fixed on the training data (the segment_feature_bins seed, from the
    model file): bin i holds lower_edge < value <= upper_edge, the first and last open-ended.
    With p and q the two sides' shares of customers in a bin, each floored at 0.0001 so an empty
    bin stays finite:  psi = sum over bins of (p - q) * ln(p / q), which is >= 0. The same
    formula as custseg.monitoring.drift (`custseg drift`).
-#}
{%- set floor = 0.0001 %}

with

memberships as (

    select * from {{ ref('segment_memberships') }}

),

bins as (

    select * from {{ ref('segment_feature_bins') }}

),

feature_values as (

    {%- for feature in ('recency_days', 'count_orders', 'avg_order_value') %}
        select
            as_of_date,
            '{{ feature }}' as feature_name,
            cast({{ feature }} as {{ type_amount() }}) as feature_value
        from memberships
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

binned as (

    select
        feature_values.as_of_date,
        feature_values.feature_name,
        bins.bin_index

    from feature_values
    inner join bins
        on
            feature_values.feature_name = bins.feature_name
            and (bins.lower_edge is null or feature_values.feature_value > bins.lower_edge)
            and (bins.upper_edge is null or feature_values.feature_value <= bins.upper_edge)

),

customers_per_date as (

    select
        as_of_date,
        count(*) as count_customers

    from memberships
    group by as_of_date

),

date_bins as (

    -- Every bin at every date, empty ones included (their share is 0 before the floor).
    select
        customers_per_date.as_of_date,
        customers_per_date.count_customers,
        bins.feature_name,
        bins.bin_index,
        bins.reference_share

    from customers_per_date
    cross join bins

),

bin_counts as (

    select
        as_of_date,
        feature_name,
        bin_index,
        count(*) as count_in_bin

    from binned
    group by as_of_date, feature_name, bin_index

),

shares as (

    select
        date_bins.as_of_date,
        date_bins.feature_name,
        date_bins.bin_index,
        date_bins.reference_share,
        cast(coalesce(bin_counts.count_in_bin, 0) as {{ type_amount() }})
        / date_bins.count_customers as bin_share

    from date_bins
    left join bin_counts
        on
            date_bins.as_of_date = bin_counts.as_of_date
            and date_bins.feature_name = bin_counts.feature_name
            and date_bins.bin_index = bin_counts.bin_index

),

previous_dates as (

    select
        as_of_date,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date

    from customers_per_date

),

floored as (

    select
        shares.as_of_date,
        previous_dates.previous_as_of_date,
        shares.feature_name,
        shares.bin_index,
        greatest(shares.bin_share, {{ floor }}) as share_now,
        greatest(shares.reference_share, {{ floor }}) as share_training,
        greatest(previous_shares.bin_share, {{ floor }}) as share_previous

    from shares
    inner join previous_dates
        on shares.as_of_date = previous_dates.as_of_date
    left join shares as previous_shares
        on
            previous_dates.previous_as_of_date = previous_shares.as_of_date
            and shares.feature_name = previous_shares.feature_name
            and shares.bin_index = previous_shares.bin_index

),

against_training as (

    select
        as_of_date,
        'training data' as compared_with,
        cast(null as date) as compared_as_of_date,
        feature_name,
        sum((share_now - share_training) * ln(share_now / share_training)) as psi

    from floored
    group by as_of_date, feature_name

),

against_previous as (

    select
        as_of_date,
        'previous as-of date' as compared_with,
        previous_as_of_date as compared_as_of_date,
        feature_name,
        sum((share_now - share_previous) * ln(share_now / share_previous)) as psi

    from floored
    where previous_as_of_date is not null
    group by as_of_date, previous_as_of_date, feature_name

),

final as (

    select * from against_training
    union all
    select * from against_previous

)

select
    as_of_date,
    compared_with,
    compared_as_of_date,
    feature_name,
    cast(psi as {{ type_amount() }}) as psi

from final
