with

source as (

    select * from {{ source('landing', 'users') }}

),

renamed as (

    select
        cast(user_id as bigint) as user_id,
        cast(country as {{ dbt.type_string() }}) as country,
        cast(age_bucket as {{ dbt.type_string() }}) as age_bucket,
        cast(signup_at as {{ type_timestamptz() }}) as signup_at

    from source

)

select * from renamed
