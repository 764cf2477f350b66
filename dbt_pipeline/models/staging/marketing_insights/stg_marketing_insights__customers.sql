{%- set kinds = raw_column_kinds(source('marketing_insights', 'customers_data')) -%}

with

source as (

    select * from {{ source('marketing_insights', 'customers_data') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_text('customerid', kinds) }} as customer_id,

        ---------- attributes
        upper({{ raw_text('gender', kinds) }}) as gender,
        {{ raw_text('location', kinds) }} as location,

        ---------- numerics
        {{ raw_number('tenure_months', kinds, 'integer') }} as tenure_months

    from source

)

select * from renamed
