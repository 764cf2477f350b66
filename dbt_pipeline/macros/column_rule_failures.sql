{#- The rows a multi-column test (not_null_columns, accepted_ranges in tests/generic/) returns:
    one per column of `model` whose rule some rows break, in the order of `rules`, with the
    model, the column, the rule broken and how many rows break it; no row when none does (an
    empty model included). custseg names these in its message when the test fails
    (custseg.dbt.runner). `rules`: one mapping per column, with `column`, `rule` (the words
    the message shows, quoted for each engine) and `condition` (SQL, true for a row breaking
    it).

    `one_scan` (the default) reads the model once, whatever the number of columns: one
    aggregate row counts every column's failing rows with `count(case when <condition> then 1
    end)` (0 over an empty model, where a `sum` would be null; `filter (where ...)` is not
    portable: Snowflake lacks it), over the rows breaking some rule (the `where`, which lets an
    engine skip what its statistics rule out), and a cross join with one row per column picks
    that column's count. No CTE is referenced twice: Spark inlines a CTE at each reference,
    which would read the model again. `one_scan=false` reads the model once per column, each
    query filtered on its own condition: the caller's choice where an engine's statistics prove
    each condition false on its own, which they cannot do for the `or` of several (see
    accepted_ranges). -#}
{% macro column_rule_failures(model, rules, one_scan=true) -%}
{%- if not rules %}
{{ exceptions.raise_compiler_error("column_rule_failures needs at least one column for " ~ model) }}
{%- endif %}
with

{% if one_scan -%}
failing_counts as (

    select
        {%- for rule in rules %}
        count(case when {{ rule['condition'] }} then 1 end) as failing_rows_{{ loop.index }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
    where
        {%- for rule in rules %}
        {{ 'or ' if not loop.first }}({{ rule['condition'] }})
        {%- endfor %}

),

column_rules as (

    select
        column_index,
        column_name,
        rule
    from (
        values
        {%- for rule in rules %}
        {%- set column_name = dbt.string_literal(dbt.escape_single_quotes(rule['column'])) %}
        {%- set rule_words = dbt.string_literal(dbt.escape_single_quotes(rule['rule'])) %}
        ({{ loop.index }}, {{ column_name }}, {{ rule_words }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as column_rules (column_index, column_name, rule)

),

column_failures as (

    select
        column_rules.column_index,
        column_rules.column_name,
        column_rules.rule,
        case column_rules.column_index
            {%- for rule in rules %}
            when {{ loop.index }} then failing_counts.failing_rows_{{ loop.index }}
            {%- endfor %}
        end as failing_rows
    from failing_counts
    cross join column_rules

)
{%- else -%}
column_failures as (
    {%- for rule in rules %}
    {%- if not loop.first %}

    union all
    {%- endif %}

    select
        {{ loop.index }} as column_index,
        {{ dbt.string_literal(dbt.escape_single_quotes(rule['column'])) }} as column_name,
        {{ dbt.string_literal(dbt.escape_single_quotes(rule['rule'])) }} as rule,
        count(*) as failing_rows
    from {{ model }}
    where {{ rule['condition'] }}
    {%- endfor %}

)
{%- endif %}

select
    {{ dbt.string_literal(dbt.escape_single_quotes(model.identifier)) }} as model_name,
    column_name,
    rule,
    failing_rows
from column_failures
where failing_rows > 0
order by column_index
{%- endmacro %}
