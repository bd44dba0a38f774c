with

source as (

    select * from {{ source('landing', 'items') }}

),

renamed as (

    select
        cast(item_id as bigint) as item_id,
        cast(content_type as {{ dbt.type_string() }}) as content_type,
        cast(title as {{ dbt.type_string() }}) as title,
        coalesce(cast(description as {{ dbt.type_string() }}), '') as description,
        cast(language as {{ dbt.type_string() }}) as language,
        cast(genre as {{ dbt.type_string() }}) as genre,
        cast(creator_id as {{ dbt.type_string() }}) as creator_id,
        cast(published_at as {{ type_timestamptz() }}) as published_at

    from source

)

select * from renamed
