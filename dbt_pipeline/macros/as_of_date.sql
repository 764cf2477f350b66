{#-
    The as-of date as a SQL date literal when the `as_of_date` var is set, otherwise none.
    Models fall back to the day after the last transaction in the data (see int_as_of_date).
-#}
{% macro as_of_date_literal() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or value == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
        {{ exceptions.raise_compiler_error(
            "var 'as_of_date' must be a date written YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return("cast('" ~ value ~ "' as date)") }}
{%- endmacro %}
