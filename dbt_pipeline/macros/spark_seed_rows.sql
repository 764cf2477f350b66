{#-
    Seed rows on Spark. dbt-spark's session connection pastes every bound text value between
    single quotes without escaping it, and writes a missing value as the text 'None'. A seed
    value with an apostrophe ("... below Big Spenders'") then breaks the INSERT with a syntax
    error. This override (dbt looks for `spark__load_csv_rows` in the root project first) writes
    each value as an escaped Spark SQL literal instead of binding it; batches and casts are
    dbt-spark's. Numbers keep the CSV's own digits: the cast to the column type parses them.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(col_name, inferred_type) -%}
                    cast({{ spark_seed_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- The first batch is rendered into target/ as the seed's compiled SQL, as dbt-spark does. -#}
    {{ return(statements[0]) }}
{% endmacro %}

{#- A seed value as a Spark SQL literal: null, or text with backslashes and quotes escaped. -#}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is boolean -%}
        {{ 'true' if value else 'false' }}
    {%- else -%}
        '{{ (value | string).replace('\\', '\\\\').replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
