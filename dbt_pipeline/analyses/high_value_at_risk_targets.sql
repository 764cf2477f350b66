{#-
    Campaign target list: valuable customers (lifetime revenue at least
    var('target_min_lifetime_revenue')) in the segments named by var('target_segment_names')
    who are no longer active, most valuable first. Win-back campaigns start here.
-#}
with

segments as (

    select * from {{ ref('fct_customer_segments') }}

)

select
    customer_id,
    segment_name,
    location,
    gender,
    count_orders,
    lifetime_revenue,
    avg_order_value,
    last_purchase_date,
    recency_days,
    activity_status

from segments
where
    segment_name in (
        {%- for name in var('target_segment_names') %}
        '{{ name | replace("'", "''") }}'{{ "," if not loop.last }}
        {%- endfor %}
    )
    and lifetime_revenue >= {{ var('target_min_lifetime_revenue') }}
    and activity_status <> 'Active'
order by lifetime_revenue desc, customer_id
