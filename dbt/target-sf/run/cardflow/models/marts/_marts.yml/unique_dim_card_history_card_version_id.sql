
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    card_version_id as unique_field,
    count(*) as n_records

from CARDFLOW.GOLD.dim_card_history
where card_version_id is not null
group by card_version_id
having count(*) > 1



  
  
      
    ) dbt_internal_test