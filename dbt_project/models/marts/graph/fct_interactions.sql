-- User-item edges of the training window. weight = log1p(n_streams) + 0.5 * weak signals.

with

user_items as (

    select * from {{ ref('int_user_items_aggregated') }}

),

final as (

    select
        user_id,
        item_id,
        content_type,
        n_streams,
        n_follows,
        n_previews,
        n_intent_to_pay,
        ms_played_total,
        is_consumed,
        ln(1 + n_streams) + 0.5 * (n_follows + n_previews + n_intent_to_pay) as weight,
        first_event_at,
        last_event_at

    from user_items

)

select * from final
