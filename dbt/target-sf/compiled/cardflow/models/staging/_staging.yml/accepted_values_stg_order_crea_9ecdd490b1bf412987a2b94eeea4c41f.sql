
    
    

with all_values as (

    select
        status as value_field,
        count(*) as n_records

    from CARDFLOW.SILVER.stg_order_created
    group by status

)

select *
from all_values
where value_field not in (
    'CREATED','PAID','SHIPPED','CANCELLED'
)


