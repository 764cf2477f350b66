{#- One row per product sold, with its name and category. -#}
with

sales_lines as (

    select * from {{ ref('stg_marketing_insights__sales_lines') }}

),

products as (

    select
        product_sku,
        min(product_description) as product_description,
        min(product_category) as product_category

    from sales_lines
    where product_sku is not null
    group by product_sku

)

select * from products
