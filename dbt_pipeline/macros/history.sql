{#-
    Helpers of the history models (models/history/): how an incremental history table replaces
    the rows of the as-of dates it is given on each engine, and the run records custseg passes in.
-#}

{#- The incremental config of a history table keyed by as-of date: the rows of every as-of date
    in the new batch replace that date's rows (delete+insert where the engine has it; on Spark a
    dynamic overwrite of the as-of date's partition). `full_refresh=false`: `dbt build
    --full-refresh` never rebuilds a history table, so it cannot wipe it. -#}
{% macro history_table_config() -%}
    {%- if target.type == 'spark' -%}
        {{ config(
            materialized='incremental',
            incremental_strategy='insert_overwrite',
            partition_by=['as_of_date'],
            file_format='parquet',
            full_refresh=false,
            on_schema_change='fail'
        ) }}
    {%- else -%}
        {{ config(
            materialized='incremental',
            incremental_strategy='delete+insert',
            unique_key='as_of_date',
            full_refresh=false,
            on_schema_change='fail'
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- The run records of the batch custseg is publishing (environment variable
    CUSTSEG_RUN_RECORDS, a JSON list; one record per as-of date), or an empty list: a dbt build
    by hand adds nothing to the history. -#}
{% macro run_records() -%}
    {%- set records = fromjson(env_var('CUSTSEG_RUN_RECORDS', '[]')) -%}
    {%- if records is not sequence or records is string or records is mapping -%}
        {{ exceptions.raise_compiler_error(
            "CUSTSEG_RUN_RECORDS must be a JSON list of run records") }}
    {%- endif -%}
    {{ return(records) }}
{%- endmacro %}

{#- Where the history takes the new memberships from (environment variable
    CUSTSEG_HISTORY_SOURCE): 'run' (fct_customer_segments, the run being published), 'backfill'
    (segment_scores_by_as_of_date, past as-of dates) or 'none' (a dbt build by hand). -#}
{% macro history_source() -%}
    {%- set source = env_var('CUSTSEG_HISTORY_SOURCE', 'none') -%}
    {%- if source not in ('run', 'backfill', 'none') -%}
        {{ exceptions.raise_compiler_error(
            "CUSTSEG_HISTORY_SOURCE must be 'run', 'backfill' or 'none', got '" ~ source ~ "'") }}
    {%- endif -%}
    {{ return(source) }}
{%- endmacro %}

{#- A SQL literal of a run record's value: text quoted (quotes doubled), numbers as they are,
    booleans as true/false, missing values as a typed null. -#}
{% macro record_literal(value, sql_type) -%}
    {%- if value is none -%}
        cast(null as {{ sql_type }})
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        cast({{ value }} as {{ sql_type }})
    {%- else -%}
        cast('{{ value | string | replace("'", "''") }}' as {{ sql_type }})
    {%- endif -%}
{%- endmacro %}
