{%- set kinds = raw_column_kinds(source('marketing_insights', 'marketing_spend')) -%}

with

source as (

    select * from {{ source('marketing_insights', 'marketing_spend') }}

),

renamed as (

    select

        ---------- dates
        {{ raw_date('date', kinds) }} as spend_date,

        ---------- numerics
        {{ raw_number('offline_spend', kinds, type_amount()) }} as offline_spend_amount,
        {{ raw_number('online_spend', kinds, type_amount()) }} as online_spend_amount

    from source

)

select * from renamed
