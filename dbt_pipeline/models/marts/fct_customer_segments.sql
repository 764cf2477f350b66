-- depends_on: {{ ref('customer_segments') }}
-- depends_on: {{ ref('customer_segment_scores') }}
{#-
    The published segments: one row per segmented customer with demographics, segment and sales
    measures, all as of the as-of date.

    Small runs publish one row per customer in the customer_segments seed; large runs score
    every customer in SQL instead (customer_segment_scores): segment_source 'warehouse', set by
    `custseg run` through the environment variable CUSTSEG_SEGMENT_SOURCE (a var would change
    dbt's vars and force a full re-parse of the project between its two dbt calls), or as a var.
    The depends_on lines above declare both, as the ref below names one of them at run time.
-#}
{%- set segment_source = var('segment_source', env_var('CUSTSEG_SEGMENT_SOURCE', 'seed')) %}
{%- if segment_source not in ('seed', 'warehouse') %}
    {{- exceptions.raise_compiler_error(
        "segment_source must be 'seed' or 'warehouse', got '" ~ segment_source ~ "'") }}
{%- endif %}
{%- set segments_model = 'customer_segment_scores' if segment_source == 'warehouse'
    else 'customer_segments' %}

with

segments as (

    select
        customer_id,
        segment_id,
        segment_name

    from {{ ref(segments_model) }}

),

definitions as (

    select * from {{ ref('segment_definitions') }}

),

customers as (

    select * from {{ ref('dim_customer') }}

),

features as (

    select * from {{ ref('customer_features') }}

),

joined as (

    select
        segments.customer_id,
        customers.location,
        customers.gender,
        customers.tenure_months,
        segments.segment_id,
        segments.segment_name,
        definitions.segment_description,
        features.count_orders,
        features.total_quantity,
        features.lifetime_revenue,
        features.first_order_date,
        features.last_order_date,
        features.recency_days,
        features.lifetime_days,
        features.avg_order_value,
        features.lifetime_revenue / features.lifetime_days as revenue_per_day,
        case
            when features.recency_days <= {{ var('activity_active_max_days') }} then 'Active'
            when features.recency_days <= {{ var('activity_recent_max_days') }} then 'Recent'
            when features.recency_days <= {{ var('activity_dormant_max_days') }} then 'Dormant'
            else 'Inactive'
        end as activity_status,
        features.as_of_date,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
            as updated_at

    from segments
    inner join customers
        on segments.customer_id = customers.customer_id
    inner join features
        on segments.customer_id = features.customer_id
    inner join definitions
        on segments.segment_id = definitions.segment_id

)

select * from joined
