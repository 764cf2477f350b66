{#-
    One row per sales line: its keys, the measures of the invoice and its value. The pricing
    itself lives in int_sales_lines_priced; product names are in dim_product, customers in
    dim_customer. A view, like the model it reads: nothing here is worth storing 50 million
    lines again.
-#}

{{ config(materialized='view') }}

with

priced_sales_lines as (

    select * from {{ ref('int_sales_lines_priced') }}

),

final as (

    select
        sales_line_id,
        order_id,
        customer_id,
        transaction_id,
        transaction_date,
        product_sku,
        product_category,
        coupon_status,
        is_coupon_used,
        coupon_code,
        quantity,
        unit_price_amount,
        delivery_charges_amount,
        applied_discount_rate,
        gst_rate,
        gross_amount,
        discount_amount,
        gst_amount,
        invoice_amount

    from priced_sales_lines

)

select * from final
