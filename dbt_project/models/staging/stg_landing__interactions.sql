with

source as (

    select * from {{ source('landing', 'interactions') }}

),

renamed as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(user_id as bigint) as user_id,
        cast(item_id as bigint) as item_id,
        cast(event_at as {{ type_timestamptz() }}) as event_at,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(ms_played as bigint) as ms_played

    from source

)

select * from renamed
