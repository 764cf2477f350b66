{#-
    MetricFlow's time spine: one row per day from var time_spine_start_date (included) to var
    time_spine_end_date (excluded). The semantic model of fct_customer_segments measures as of
    as_of_date, which must fall in this range for queries by metric_time.
-#}
with

days as (

    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('" ~ var('time_spine_start_date') ~ "' as date)",
        end_date="cast('" ~ var('time_spine_end_date') ~ "' as date)",
    ) }}

),

final as (

    select cast(date_day as date) as date_day

    from days

)

select * from final
