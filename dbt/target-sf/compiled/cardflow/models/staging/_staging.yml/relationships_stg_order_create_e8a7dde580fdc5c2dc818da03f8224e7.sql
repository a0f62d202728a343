
    
    

with child as (
    select sku as from_field
    from CARDFLOW.SILVER.stg_order_created
    where sku is not null
),

parent as (
    select sku as to_field
    from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


