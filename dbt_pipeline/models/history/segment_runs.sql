{{ history_table_config() }}
{#-
    One row per as-of date ever published: the run that published that date's memberships, the
    model that scored them, and the quality figures of the model. custseg passes the records of
    the batch it publishes (one for `custseg run`, one per period for `custseg backfill`) in the
    environment variable CUSTSEG_RUN_RECORDS; a rerun of an as-of date replaces its row.
    Incremental with full_refresh=false: `dbt build --full-refresh` keeps it (README, "History").
-#}
{%- set records = run_records() %}
{%- set text = dbt.type_string() %}
{%- set double = type_amount() %}

{%- if records | length == 0 %}

    select
        cast(null as date) as as_of_date,
        cast(null as {{ text }}) as run_id,
        cast(null as {{ text }}) as model_version,
        cast(null as {{ text }}) as dataset,
        cast(null as integer) as count_segments,
        cast(null as {{ dbt.type_bigint() }}) as count_customers,
        cast(null as {{ text }}) as input_fingerprint,
        cast(null as {{ double }}) as silhouette,
        cast(null as {{ double }}) as bootstrap_stability,
        cast(null as {{ double }}) as smallest_segment_share,
        cast(null as {{ dbt.type_boolean() }}) as names_supported,
        cast(null as {{ dbt.type_boolean() }}) as retrained
    where 1 = 0

{%- else %}

    {%- for record in records %}

        select
            cast('{{ record.as_of_date }}' as date) as as_of_date,
            {{ record_literal(record.run_id, text) }} as run_id,
            {{ record_literal(record.model_version, text) }} as model_version,
            {{ record_literal(record.dataset, text) }} as dataset,
            {{ record_literal(record.count_segments, 'integer') }} as count_segments,
            {{ record_literal(record.count_customers, dbt.type_bigint()) }} as count_customers,
            {{ record_literal(record.input_fingerprint, text) }} as input_fingerprint,
            {{ record_literal(record.silhouette, double) }} as silhouette,
            {{ record_literal(record.bootstrap_stability, double) }} as bootstrap_stability,
            {{ record_literal(record.smallest_segment_share, double) }}
                as smallest_segment_share,
            {{ record_literal(record.names_supported, dbt.type_boolean()) }} as names_supported,
            {{ record_literal(record.retrained, dbt.type_boolean()) }} as retrained

        {%- if not loop.last %}

            union all

        {%- endif %}
    {%- endfor %}

{%- endif %}
