{#-
    Parse a text date written as M/D/YYYY (month and day with or without a leading zero).
    Returns null for anything that is not a real calendar date ('2/30/2019', '13/45/2019', ''), so
    a bad value is caught by the not_null test of the staging column instead of by a crash or by a
    guess. Engines differ, hence the dispatch.
-#}
{% macro parse_mdy_date(column) -%}
    {{ return(adapter.dispatch('parse_mdy_date', 'custseg')(column)) }}
{%- endmacro %}

{% macro duckdb__parse_mdy_date(column) -%}
    cast(try_strptime(trim({{ column }}), '%m/%d/%Y') as date)
{%- endmacro %}

{% macro default__parse_mdy_date(column) -%}
    case
        when trim({{ column }}) ~ '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$'
            and split_part(trim({{ column }}), '/', 1)::int between 1 and 12
            and split_part(trim({{ column }}), '/', 2)::int between 1 and 31
            and split_part(trim({{ column }}), '/', 2)::int <= extract(day from (
                make_date(split_part(trim({{ column }}), '/', 3)::int,
                          split_part(trim({{ column }}), '/', 1)::int, 1)
                + interval '1 month' - interval '1 day'))
        then make_date(
            split_part(trim({{ column }}), '/', 3)::int,
            split_part(trim({{ column }}), '/', 1)::int,
            split_part(trim({{ column }}), '/', 2)::int
        )
    end
{%- endmacro %}
