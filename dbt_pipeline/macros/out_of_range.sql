{#- True for a value of `column_name` outside [min_value, max_value] (a bound may be none;
    `inclusive` false makes both strict); null is never out of range. The one definition of a
    range for the accepted_range and accepted_ranges tests (tests/generic/). -#}
{% macro out_of_range(column_name, min_value, max_value, inclusive) -%}
    1 = 0
    {%- if min_value is not none %}
    or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
    {%- endif %}
    {%- if max_value is not none %}
    or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
    {%- endif %}
{%- endmacro %}
