with

source as (

    select * from {{ source('marketing_insights', 'customers_data') }}

),

renamed as (

    select

        ---------- ids
        trim(customerid) as customer_id,

        ---------- attributes
        upper(trim(gender)) as gender,
        trim(location) as location,

        ---------- numerics
        cast(trim(tenure_months) as integer) as tenure_months

    from source

)

select * from renamed
