with

source as (

    select * from {{ source('marketing_insights', 'discount_coupon') }}

),

renamed as (

    select

        ---------- ids
        trim(coupon_code) as coupon_code,

        ---------- attributes
        {{ month_abbreviation_to_number('month') }} as month_number,
        trim(month) as month_name,
        trim(product_category) as product_category,

        ---------- numerics
        -- The file stores percent (10 = 10%); the rate is the fraction used in the invoice.
        cast(trim(discount_pct) as {{ type_amount() }}) as discount_pct,
        cast(trim(discount_pct) as {{ type_amount() }}) / 100 as discount_rate

    from source

)

select * from renamed
