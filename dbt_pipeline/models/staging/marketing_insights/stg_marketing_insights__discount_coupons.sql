{%- set kinds = raw_column_kinds(source('marketing_insights', 'discount_coupon')) -%}

with

source as (

    select * from {{ source('marketing_insights', 'discount_coupon') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_text('coupon_code', kinds) }} as coupon_code,

        ---------- attributes
        {{ month_abbreviation_to_number(raw_text('month', kinds)) }} as month_number,
        {{ raw_text('month', kinds) }} as month_name,
        {{ raw_text('product_category', kinds) }} as product_category,

        ---------- numerics
        -- The file stores percent (10 = 10%); the rate is the fraction used in the invoice.
        {{ raw_number('discount_pct', kinds, type_amount()) }} as discount_pct,
        {{ raw_number('discount_pct', kinds, type_amount()) }} / 100 as discount_rate

    from source

)

select * from renamed
