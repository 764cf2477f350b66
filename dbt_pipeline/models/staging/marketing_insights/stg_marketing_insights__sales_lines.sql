with

source as (

    select * from {{ source('marketing_insights', 'online_sales') }}

),

renamed as (

    select

        ---------- ids
        cast(file_line_number as integer) as sales_line_id,
        trim(customerid) as customer_id,
        trim(transaction_id) as transaction_id,
        -- An order is a (customer, transaction) pair: one transaction id can belong to two
        -- customers in the source system.
        trim(customerid) || '|' || trim(transaction_id) as order_id,
        trim(product_sku) as product_sku,

        ---------- dates
        {{ parse_mdy_date('transaction_date') }} as transaction_date,

        ---------- attributes
        trim(product_description) as product_description,
        trim(product_category) as product_category,
        trim(coupon_status) as coupon_status,
        trim(coupon_status) = 'Used' as is_coupon_used,

        ---------- numerics
        cast(trim(quantity) as {{ type_amount() }}) as quantity,
        cast(trim(avg_price) as {{ type_amount() }}) as unit_price_amount,
        cast(trim(delivery_charges) as {{ type_amount() }}) as delivery_charges_amount

    from source

)

select * from renamed
