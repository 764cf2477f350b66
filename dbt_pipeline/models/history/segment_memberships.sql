-- depends_on: {{ ref('fct_customer_segments') }}
-- depends_on: {{ ref('segment_scores_by_as_of_date') }}
{{ history_table_config() }}
{#-
    Every customer's segment at every as-of date ever published, with the features it was
    scored on, the run that published it and the model that scored it: the history the
    transitions and drift models read. custseg adds one batch per publication
    (CUSTSEG_HISTORY_SOURCE): 'run' takes the segments being published in fct_customer_segments,
    'backfill' the past as-of dates scored in segment_scores_by_as_of_date; the rows of every
    as-of date in the batch replace that date's rows, so a rerun of a date leaves no duplicate.
    A dbt build by hand ('none') adds nothing. Incremental with full_refresh=false:
    `dbt build --full-refresh` keeps it (README, "History").
-#}
{%- set source = history_source() %}
{%- set new_rows = {
    'run': ref('fct_customer_segments'),
    'backfill': ref('segment_scores_by_as_of_date'),
    'none': ref('fct_customer_segments'),
}[source] %}

with

new_memberships as (

    select
        as_of_date,
        customer_id,
        segment_id,
        segment_name,
        recency_days,
        count_orders,
        lifetime_revenue,
        avg_order_value

    from {{ new_rows }}
    {%- if source == 'none' %}
        where 1 = 0
    {%- endif %}

),

runs as (

    select
        as_of_date,
        run_id,
        model_version

    from {{ ref('segment_runs') }}

),

recorded as (

    select
        new_memberships.customer_id,
        new_memberships.segment_id,
        new_memberships.segment_name,
        new_memberships.recency_days,
        new_memberships.count_orders,
        new_memberships.lifetime_revenue,
        new_memberships.avg_order_value,
        runs.run_id,
        runs.model_version,
        new_memberships.as_of_date

    from new_memberships
    inner join runs
        on new_memberships.as_of_date = runs.as_of_date

)

select * from recorded
