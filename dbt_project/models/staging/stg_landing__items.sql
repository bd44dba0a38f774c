with

source as (

    select * from {{ source('landing', 'items') }}

),

renamed as (

    select
        cast(item_id as bigint) as item_id,
        cast(content_type as varchar) as content_type,
        cast(title as varchar) as title,
        coalesce(cast(description as varchar), '') as description,
        cast(language as varchar) as language,
        cast(genre as varchar) as genre,
        cast(creator_id as varchar) as creator_id,
        cast(published_at as timestamptz) as published_at

    from source

)

select * from renamed
