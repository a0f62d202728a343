
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with child as (
    select sku as from_field
    from CARDFLOW.GOLD.fct_batch_performance
    where sku is not null
),

parent as (
    select sku as to_field
    from CARDFLOW.GOLD.dim_card
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null



  
  
      
    ) dbt_internal_test