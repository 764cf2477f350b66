{#-
    One row per sales line with its invoice value, the dataset's documented formula:
    quantity * unit price * (1 - discount) * (1 + GST) + delivery charges,
    where the discount is the coupon of the line's month and category, applied only when the
    coupon was used, and GST is a fraction. A line whose file gives its total (`line_amount`,
    an order log) is worth that total instead; a GST or delivery charge the input does not give
    counts as 0. This is the only definition of revenue in the
    project: fct_sales publishes it, int_sales_lines_aggregated_to_orders sums it per order.

    A view: the raw sales lines are already stored once, and pricing them (two joins with
    category-sized tables) is cheaper than storing them again; at 50 million lines writing this
    table cost about 20 s of a 2-core machine, computing it about 1 s.
-#}

{{ config(materialized='view') }}

with

sales_lines as (

    select * from {{ ref('stg_marketing_insights__sales_lines') }}

),

coupons as (

    select * from {{ ref('stg_marketing_insights__discount_coupons') }}

),

tax_rates as (

    select * from {{ ref('stg_marketing_insights__tax_rates') }}

),

joined as (

    select
        sales_lines.sales_line_id,
        sales_lines.order_id,
        sales_lines.customer_id,
        sales_lines.transaction_id,
        sales_lines.customer_key,
        sales_lines.transaction_key,
        sales_lines.transaction_date,
        sales_lines.product_sku,
        sales_lines.product_category,
        sales_lines.coupon_status,
        sales_lines.is_coupon_used,
        coupons.coupon_code,
        sales_lines.quantity,
        sales_lines.unit_price_amount,
        sales_lines.delivery_charges_amount,
        sales_lines.line_amount,
        case
            when sales_lines.is_coupon_used then coalesce(coupons.discount_rate, 0)
            else 0
        end as applied_discount_rate,
        tax_rates.gst_rate

    from sales_lines
    left join coupons
        on
            sales_lines.product_category = coupons.product_category
            and extract(month from sales_lines.transaction_date) = coupons.month_number
    left join tax_rates
        on sales_lines.product_category = tax_rates.product_category

),

priced as (

    select
        *,
        quantity * unit_price_amount as gross_amount,
        quantity * unit_price_amount * applied_discount_rate as discount_amount,
        quantity * unit_price_amount * (1 - applied_discount_rate) * gst_rate as gst_amount,
        coalesce(
            line_amount,
            cast(
                quantity * unit_price_amount * (1 - applied_discount_rate)
                * (1 + coalesce(gst_rate, 0))
                + coalesce(delivery_charges_amount, 0)
                as {{ type_money() }}
            )
        ) as invoice_amount

    from joined

)

select * from priced
