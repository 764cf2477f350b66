{#-
    Python counted the customers of every segment when it published segment_definitions; SQL
    scoring (customer_segment_scores) must put exactly as many customers in each. This checks
    warehouse scoring in large runs, where no per-customer seed exists to compare with.
-#}
with

scored as (

    select
        segment_id,
        count(*) as count_customers

    from {{ ref('customer_segment_scores') }}
    group by segment_id

)

select
    definitions.segment_id,
    definitions.count_customers as python_count,
    coalesce(scored.count_customers, 0) as sql_count

from {{ ref('segment_definitions') }} as definitions
left join scored
    on definitions.segment_id = scored.segment_id
where coalesce(scored.count_customers, 0) <> definitions.count_customers
