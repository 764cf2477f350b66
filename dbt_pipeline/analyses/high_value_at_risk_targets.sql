{#-
    Campaign target list: valuable customers (lifetime revenue at least
    var('target_min_lifetime_revenue')) in the segments whose ids are in var('target_segment_ids')
    who are no longer active, most valuable first. Win-back campaigns start here. Segments are
    chosen by id: an id keeps its name for good (see segment_definitions), whatever its wording.
-#}

{%- set segment_ids = var('target_segment_ids') %}
{%- if segment_ids is string or segment_ids is not iterable or segment_ids | length == 0 %}
    {{ exceptions.raise_compiler_error(
        "var 'target_segment_ids' must be a list of segment ids, e.g. [1, 0]; got "
        ~ segment_ids) }}
{%- endif %}
{%- for segment_id in segment_ids if segment_id is not integer or segment_id is boolean %}
    {{ exceptions.raise_compiler_error(
        "var 'target_segment_ids' must hold whole numbers (ids of segment_definitions); got "
        ~ segment_id) }}
{%- endfor %}

with

segments as (

    select * from {{ ref('fct_customer_segments') }}

)

select
    customer_id,
    segment_id,
    segment_name,
    location,
    gender,
    count_orders,
    lifetime_revenue,
    avg_order_value,
    last_order_date,
    recency_days,
    activity_status

from segments
where
    segment_id in ({{ segment_ids | join(', ') }})
    and lifetime_revenue >= {{ var('target_min_lifetime_revenue') }}
    and activity_status <> 'Active'
order by lifetime_revenue desc, customer_id asc
