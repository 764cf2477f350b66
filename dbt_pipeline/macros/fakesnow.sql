{#-
    Emulator only: what dbt-snowflake writes that fakesnow (the Snowflake emulator on DuckDB the
    tests run against, see the README's Engines section) cannot run. Every override here applies
    only when the profile's account is `fakesnow`; on a real account it returns dbt-snowflake's
    own SQL, unchanged.

    dbt's unit tests build their input as a TEMPORARY table named database.schema.name. DuckDB
    keeps temporary tables in its `temp` catalog only, so fakesnow refuses the qualified name
    ("TEMPORARY table names can only use the temp catalog"). On the emulator the table is made
    TRANSIENT instead (a permanent table without fail-safe); the unit test drops it when done,
    as it drops the temporary one. dbt looks for this macro in the root project first.
-#}
{% macro snowflake__create_table_temporary_sql(relation, compiled_code) -%}
    {%- if target.account != 'fakesnow' -%}
        {{ return(dbt_snowflake.snowflake__create_table_temporary_sql(relation, compiled_code)) }}
    {%- endif -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced -%}
        {{- get_assert_columns_equivalent(compiled_code) -}}
        {%- set compiled_code = get_select_subquery(compiled_code) -%}
    {%- endif -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    create or replace transient table {{ relation }}
    {%- if contract_config.enforced %}
        {{ get_table_columns_and_constraints() }}
    {%- endif %}
    as (
        {{ compiled_code }}
    )
{%- endmacro %}
