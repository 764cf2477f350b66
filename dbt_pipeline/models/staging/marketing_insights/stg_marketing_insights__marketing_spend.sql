with

source as (

    select * from {{ source('marketing_insights', 'marketing_spend') }}

),

renamed as (

    select

        ---------- dates
        {{ parse_mdy_date('date') }} as spend_date,

        ---------- numerics
        cast(trim(offline_spend) as {{ type_amount() }}) as offline_spend_amount,
        cast(trim(online_spend) as {{ type_amount() }}) as online_spend_amount

    from source

)

select * from renamed
