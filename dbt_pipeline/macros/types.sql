{#-
    Column types used in casts. Amounts are 64-bit floating point on every engine (DuckDB's
    `float` would be 32-bit), so revenue sums agree across engines to floating point precision.
-#}
{% macro type_amount() -%}
    {{ return(adapter.dispatch('type_amount', 'custseg')()) }}
{%- endmacro %}

{% macro default__type_amount() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_amount() -%}
    double
{%- endmacro %}

{% macro spark__type_amount() -%}
    double
{%- endmacro %}

{#-
    Exact money: invoice amounts are stored as decimals with 10 places, so sums over lines and
    orders are exact and do not depend on the order in which a parallel engine adds them (a
    floating point sum can differ in its last bit from run to run, and so would the model).
-#}
{% macro type_money() -%}
    decimal(38, 10)
{%- endmacro %}

{% macro month_abbreviation_to_number(column) -%}
    case lower(trim({{ column }}))
        when 'jan' then 1 when 'feb' then 2 when 'mar' then 3 when 'apr' then 4
        when 'may' then 5 when 'jun' then 6 when 'jul' then 7 when 'aug' then 8
        when 'sep' then 9 when 'oct' then 10 when 'nov' then 11 when 'dec' then 12
    end
{%- endmacro %}
