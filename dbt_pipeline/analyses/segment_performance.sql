{#-
    Segment performance: customers, revenue and their shares, average order value and the
    activity mix of every segment, as of the as-of date of the published mart.
    Compile with `dbt compile --select segment_performance` and run the SQL in target/.
-#}
with

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

per_segment as (

    select
        segment_id,
        segment_name,
        count(*) as count_customers,
        sum(count_orders) as count_orders,
        sum(lifetime_revenue) as lifetime_revenue,
        sum(lifetime_revenue) / sum(count_orders) as avg_order_value,
        avg(recency_days) as avg_recency_days,
        sum(case when activity_status = 'Active' then 1 else 0 end) as count_active,
        sum(case when activity_status = 'Recent' then 1 else 0 end) as count_recent,
        sum(case when activity_status = 'Dormant' then 1 else 0 end) as count_dormant,
        sum(case when activity_status = 'Inactive' then 1 else 0 end) as count_inactive

    from segments
    group by segment_id, segment_name

),

totals as (

    select
        sum(count_customers) as all_customers,
        sum(lifetime_revenue) as all_revenue

    from per_segment

)

select
    per_segment.segment_id,
    per_segment.segment_name,
    per_segment.count_customers,
    per_segment.count_customers * 1.0 / totals.all_customers as customer_share,
    per_segment.count_orders,
    per_segment.lifetime_revenue,
    per_segment.lifetime_revenue / totals.all_revenue as revenue_share,
    per_segment.avg_order_value,
    per_segment.avg_recency_days,
    per_segment.count_active,
    per_segment.count_recent,
    per_segment.count_dormant,
    per_segment.count_inactive

from per_segment
cross join totals
order by per_segment.lifetime_revenue desc
