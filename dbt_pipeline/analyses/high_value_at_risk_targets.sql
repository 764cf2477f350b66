{#-
    Campaign target list: valuable customers in the segments whose ids are in
    var('target_segment_ids') who are no longer active, most valuable first. Win-back campaigns
    start here. Segments are chosen by id: an id keeps its name for good (see
    segment_definitions), whatever its wording.

    "Valuable" is relative to the data, not a fixed amount (a fixed 1,000 selects everyone in one
    currency and no one in another): a customer is valuable when their lifetime revenue is in the
    top var('target_revenue_top_share') of all customers of the mart (0.25 = the top quartile),
    i.e. its percent rank (0 for the lowest revenue, 1 for the highest; ties share a rank) is at
    least 1 - that share.
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
{%- set top_share = var('target_revenue_top_share') %}
{%- if top_share is not number or top_share is boolean or top_share <= 0 or top_share > 1 %}
    {{ exceptions.raise_compiler_error(
        "var 'target_revenue_top_share' must be a share of customers above 0 and at most 1, "
        ~ "e.g. 0.25 for the top quartile of lifetime revenue; got " ~ top_share) }}
{%- endif %}

with

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

ranked as (

    select
        *,
        percent_rank() over (order by lifetime_revenue) as revenue_percent_rank

    from segments

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

from ranked
where
    segment_id in ({{ segment_ids | join(', ') }})
    and revenue_percent_rank >= {{ 1 - top_share }}
    and activity_status <> 'Active'
order by lifetime_revenue desc, customer_id asc
