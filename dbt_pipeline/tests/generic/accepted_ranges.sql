{#-
    `accepted_range` (tests/generic/accepted_range.sql) for several columns of one model in one
    query, one test node instead of one per column, reading the model once for all its columns
    (except on DuckDB, see below; macros/column_rule_failures.sql). `ranges`: one mapping per
    column, with `column` and the bounds `min_value`, `max_value` (optional, at least one) and
    `inclusive` (default true; false makes both strict). Nulls pass: pair with not_null_columns
    when they must not. Returns one row per column out of its range: the model, the column, the
    rule broken and the rows breaking it (custseg names them when the test fails, see
    custseg.dbt.runner).
-#}
{% test accepted_ranges(model, ranges) %}

{%- set rules = [] %}
{%- for range in ranges %}
{%- set column_name = range['column'] %}
{%- set min_value = range.get('min_value') %}
{%- set max_value = range.get('max_value') %}
{%- set inclusive = range.get('inclusive', true) %}
{%- if min_value is none and max_value is none %}
{{ exceptions.raise_compiler_error("accepted_ranges needs min_value, max_value or both for " ~ column_name) }}
{%- endif %}
{%- set broken = [] %}
{%- if min_value is not none %}
{%- do broken.append(('below ' if inclusive else 'at or below ') ~ min_value) %}
{%- endif %}
{%- if max_value is not none %}
{%- do broken.append(('above ' if inclusive else 'at or above ') ~ max_value) %}
{%- endif %}
{%- do rules.append({
    'column': column_name,
    'rule': broken | join(' or '),
    'condition': out_of_range(column_name, min_value, max_value, inclusive),
}) %}
{%- endfor %}
{#- DuckDB proves a range false from the statistics of a view's computed columns (the priced
    sales lines' discount and invoice amount: no read at all) only for one condition at a time,
    not for the `or` of several columns, so there each column keeps its own query; elsewhere,
    and for not_null_columns everywhere, one read serves every column. -#}
{{ column_rule_failures(model, rules, one_scan=target.type != 'duckdb') }}

{% endtest %}
