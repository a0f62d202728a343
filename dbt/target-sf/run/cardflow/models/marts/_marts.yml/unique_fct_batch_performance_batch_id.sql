
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    batch_id as unique_field,
    count(*) as n_records

from CARDFLOW.GOLD.fct_batch_performance
where batch_id is not null
group by batch_id
having count(*) > 1



  
  
      
    ) dbt_internal_test