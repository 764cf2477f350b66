{#-
    parse_mdy_date on hand-written values, actual against expected, on whatever engine dbt runs
    on (each engine has its own implementation of the macro). Returns the rows that disagree.
    The ref below ties the check to the staging model that parses dates, so every build of it
    (`custseg run` included) runs this test too.
-#}
-- depends_on: {{ ref('stg_marketing_insights__sales_lines') }}
with

cases as (

    -- One case a line, as a table is read: union all of one-line selects, aliased once (a
    -- VALUES list is not written alike on every engine).
    -- noqa: disable=LT09,LT11,AL03
    select '1/5/2019' as date_text, cast('2019-01-05' as date) as expected_date
    union all select '01/05/2019', cast('2019-01-05' as date)
    union all select '12/31/2019', cast('2019-12-31' as date)
    union all select ' 3/7/2019 ', cast('2019-03-07' as date)
    union all select '2/29/2020', cast('2020-02-29' as date)
    -- not calendar dates, or not written M/D/YYYY: null, never an error or a guess
    union all select '2/30/2019', cast(null as date)
    union all select '2/29/2019', cast(null as date)
    union all select '4/31/2019', cast(null as date)
    union all select '13/45/2019', cast(null as date)
    union all select '0/10/2019', cast(null as date)
    union all select '1/0/2019', cast(null as date)
    union all select '2019-01-05', cast(null as date)
    union all select '1/5/2019 10:00', cast(null as date)
    union all select 'not a date', cast(null as date)
    union all select '', cast(null as date)
    union all select cast(null as {{ dbt.type_string() }}), cast(null as date)
    -- noqa: enable=LT09,LT11,AL03

),

parsed as (

    select
        date_text,
        expected_date,
        {{ parse_mdy_date('date_text') }} as actual_date

    from cases

)

select *
from parsed
where
    not (
        (actual_date is null and expected_date is null)
        or coalesce(actual_date = expected_date, false)
    )
