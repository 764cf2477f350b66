{#-
    Raw columns are text (CSV files, and every engine loaded from a text export) or typed
    (Parquet files on DuckDB keep their number and date types: converting 50 million values to
    text only to parse them back costs more than the rest of staging). `raw_column_kinds` looks
    the source's columns up once when the model runs, and the three macros below emit the
    expression for each kind, so one staging model reads both. At parse time nothing is looked
    up and every column counts as text.
-#}
{% macro raw_column_kinds(relation) -%}
    {%- set kinds = {} -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do kinds.update({column.name | lower: raw_column_kind(column)}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(kinds) }}
{%- endmacro %}

{#- 'date', 'timestamp', 'integer', 'number' or 'text' (anything else is read as its text).
    Type names differ by engine: DuckDB's BIGINT, PostgreSQL's double precision, Spark's int,
    Snowflake's NUMBER(38,0) all count as numbers; the integer types named so (BIGINT, int,
    integer, ...) as integers too. -#}
{% macro raw_column_kind(column) -%}
    {%- set type_name = column.dtype | lower -%}
    {%- set integer_types = '^u?(tiny|small|big|huge)?int(eger|[0-9]*)$' -%}
    {%- set number_types = '^(u?(tiny|small|big|huge)?int(eger)?|double|float|real|decimal|numeric|number)' -%}
    {%- if type_name == 'date' -%}
        {{ return('date') }}
    {%- elif type_name.startswith('timestamp') -%}
        {{ return('timestamp') }}
    {%- elif modules.re.match(integer_types, type_name) -%}
        {{ return('integer') }}
    {%- elif column.is_number() or modules.re.match(number_types, type_name) -%}
        {{ return('number') }}
    {%- else -%}
        {{ return('text') }}
    {%- endif -%}
{%- endmacro %}

{#- The column as trimmed text (ids, names, codes), null when empty: the input rules read a
    value so (custseg.ingest.rules), and a blank gender, which they accept as unknown, must not
    fail the accepted_values test of staging as ''. -#}
{% macro raw_text(column, kinds) -%}
    {%- if kinds.get(column, 'text') == 'text' -%}
        nullif(trim({{ column }}), '')
    {%- else -%}
        cast({{ column }} as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}

{#- The column as a key to group by: integers as they are, anything else as raw_text. Two
    values are one key exactly when their raw_text is one, and the key cast to a string is its
    raw_text, so a model can group by the key and name the group by its text afterwards: on
    DuckDB, grouping 50 million sales lines into orders by two integer ids costs a third of
    grouping them by their text (measured). -#}
{% macro raw_key(column, kinds) -%}
    {%- if kinds.get(column, 'text') == 'integer' -%}
        {{ column }}
    {%- else -%}
        {{ raw_text(column, kinds) }}
    {%- endif -%}
{%- endmacro %}

{#- The column as a number of type `type`. -#}
{% macro raw_number(column, kinds, type) -%}
    {%- if kinds.get(column, 'text') == 'text' -%}
        cast(trim({{ column }}) as {{ type }})
    {%- else -%}
        cast({{ column }} as {{ type }})
    {%- endif -%}
{%- endmacro %}

{#- The column as a date: typed dates as they are, text written M/D/YYYY parsed. -#}
{% macro raw_date(column, kinds) -%}
    {%- set kind = kinds.get(column, 'text') -%}
    {%- if kind == 'date' -%}
        {{ column }}
    {%- elif kind == 'timestamp' -%}
        cast({{ column }} as date)
    {%- else -%}
        {{ parse_mdy_date(column) }}
    {%- endif -%}
{%- endmacro %}
