with

source as (

    select * from {{ source('landing', 'users') }}

),

renamed as (

    select
        cast(user_id as bigint) as user_id,
        cast(country as varchar) as country,
        cast(age_bucket as varchar) as age_bucket,
        cast(signup_at as timestamptz) as signup_at

    from source

)

select * from renamed
