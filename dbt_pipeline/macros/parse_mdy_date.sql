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

{#-
    Spark 3.5+. Only text shaped M/D/YYYY (digits and slashes, nothing else) reaches the parser:
    under Spark's default parser policy a value the pre-3.0 parser would have read ('1/1/19',
    '1/1/2019x') raises an error instead of giving null. The parsed month and day must equal the
    written ones, so a lenient parser (spark.sql.legacy.timeParserPolicy=LEGACY) cannot turn
    '2/30/2019' into March 2. Year 0 ('1/1/0000') is null, as on PostgreSQL: Spark would read
    it as 1 BC, a date Python cannot hold.
-#}
{% macro spark__parse_mdy_date(column) -%}
    {%- set text = 'trim(' ~ column ~ ')' -%}
    {%- set shaped = 'case when ' ~ text ~ " rlike '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$' and not "
        ~ text ~ " rlike '[^0-9/]' then " ~ text ~ ' end' -%}
    {%- set parsed = 'to_date(try_to_timestamp(' ~ shaped ~ ", 'M/d/yyyy'))" -%}
    case
        when month({{ parsed }}) = cast(split({{ text }}, '/')[0] as int)
            and day({{ parsed }}) = cast(split({{ text }}, '/')[1] as int)
            and cast(split({{ text }}, '/')[2] as int) >= 1
        then {{ parsed }}
    end
{%- endmacro %}

{#-
    Snowflake. Only text shaped M/D/YYYY reaches the parser, with month and day padded to two
    digits, so the strict MM/DD/YYYY format reads '1/5/2019' too; try_to_date gives null for a
    day the month lacks ('2/30/2019'). Year 0 is null, as on PostgreSQL.
-#}
{% macro snowflake__parse_mdy_date(column) -%}
    {%- set text = 'trim(' ~ column ~ ')' -%}
    case
        when regexp_like({{ text }}, '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$')
            and try_to_number(split_part({{ text }}, '/', 3)) >= 1
        then try_to_date(
            lpad(split_part({{ text }}, '/', 1), 2, '0') || '/'
            || lpad(split_part({{ text }}, '/', 2), 2, '0') || '/'
            || split_part({{ text }}, '/', 3),
            'MM/DD/YYYY'
        )
    end
{%- endmacro %}

{% macro default__parse_mdy_date(column) -%}
    case
        when trim({{ column }}) ~ '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$'
            and split_part(trim({{ column }}), '/', 1)::int between 1 and 12
            and split_part(trim({{ column }}), '/', 2)::int between 1 and 31
            -- make_date raises on year 0 (PostgreSQL has no year zero): null instead
            and split_part(trim({{ column }}), '/', 3)::int >= 1
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
