{#-
    The past as-of dates `custseg backfill` segments customers at, one row each: the JSON list of
    YYYY-MM-DD dates in the environment variable CUSTSEG_BACKFILL_DATES (custseg computes it from
    --from, --to and --every). Empty outside a backfill, so the models downstream cost nothing
    in a normal run.
-#}
{%- set dates = fromjson(env_var('CUSTSEG_BACKFILL_DATES', '[]')) %}
{%- for value in dates %}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) %}
        {{- exceptions.raise_compiler_error(
            "CUSTSEG_BACKFILL_DATES must list dates written YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif %}
{%- endfor %}

{%- if dates | length == 0 %}

    select cast(null as date) as as_of_date
    where 1 = 0

{%- else %}

    {%- for value in dates %}

        select cast('{{ value }}' as date) as as_of_date

        {%- if not loop.last %}

            union all

        {%- endif %}
    {%- endfor %}

{%- endif %}
