{%- set kinds = raw_column_kinds(source('marketing_insights', 'online_sales')) -%}
{#- Without transaction ids in the file, each line is one order: its line number is its id. -#}
{%- set transaction_id = 'coalesce(' ~ raw_text('transaction_id', kinds)
    ~ ', cast(file_line_number as ' ~ dbt.type_string() ~ '))' -%}
{#- The same id as a key (macro raw_key): its text is transaction_id. -#}
{%- if kinds.get('transaction_id') == 'integer' -%}
    {%- set transaction_key = 'coalesce(transaction_id, file_line_number)' -%}
{%- else -%}
    {%- set transaction_key = transaction_id -%}
{%- endif -%}

with

source as (

    select * from {{ source('marketing_insights', 'online_sales') }}

),

renamed as (

    select

        ---------- ids
        cast(file_line_number as integer) as sales_line_id,
        {{ raw_text('customerid', kinds) }} as customer_id,
        {{ transaction_id }} as transaction_id,
        {{ raw_key('customerid', kinds) }} as customer_key,
        {{ transaction_key }} as transaction_key,
        {{ order_id(raw_text('customerid', kinds), transaction_id) }} as order_id,
        {{ raw_text('product_sku', kinds) }} as product_sku,

        ---------- dates
        {{ raw_date('transaction_date', kinds) }} as transaction_date,

        ---------- attributes
        {{ raw_text('product_description', kinds) }} as product_description,
        {{ raw_text('product_category', kinds) }} as product_category,
        {{ raw_text('coupon_status', kinds) }} as coupon_status,
        {{ raw_text('coupon_status', kinds) }} = 'Used' as is_coupon_used,

        ---------- numerics
        {{ raw_number('quantity', kinds, type_amount()) }} as quantity,
        {{ raw_number('avg_price', kinds, type_amount()) }} as unit_price_amount,
        {{ raw_number('delivery_charges', kinds, type_amount()) }} as delivery_charges_amount,
        -- Exact: when the file gives a line total, it is the line's revenue as written.
        {{ raw_number('amount', kinds, type_money()) }} as line_amount

    from source

)

select * from renamed
