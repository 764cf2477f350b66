{%- set kinds = raw_column_kinds(source('marketing_insights', 'tax_amount')) -%}

with

source as (

    select * from {{ source('marketing_insights', 'tax_amount') }}

),

renamed as (

    select

        ---------- attributes
        {{ raw_text('product_category', kinds) }} as product_category,

        ---------- numerics
        -- Stored as a fraction already (0.18 = 18%): never divide it by 100 again.
        {{ raw_number('gst', kinds, type_amount()) }} as gst_rate

    from source

)

select * from renamed
