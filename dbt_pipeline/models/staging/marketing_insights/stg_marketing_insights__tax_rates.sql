with

source as (

    select * from {{ source('marketing_insights', 'tax_amount') }}

),

renamed as (

    select

        ---------- attributes
        trim(product_category) as product_category,

        ---------- numerics
        -- Stored as a fraction already (0.18 = 18%): never divide it by 100 again.
        cast(trim(gst) as {{ type_amount() }}) as gst_rate

    from source

)

select * from renamed
