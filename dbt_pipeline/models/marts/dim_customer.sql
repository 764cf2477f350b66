{#- One row per customer with the attributes marketing segments are described by. -#}
with

customers as (

    select * from {{ ref('stg_marketing_insights__customers') }}

),

final as (

    select
        customer_id,
        gender,
        location,
        tenure_months

    from customers

)

select * from final
