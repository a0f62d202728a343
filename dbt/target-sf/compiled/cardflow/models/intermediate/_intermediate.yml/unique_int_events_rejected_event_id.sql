
    
    

select
    event_id as unique_field,
    count(*) as n_records

from CARDFLOW.SILVER.int_events_rejected
where event_id is not null
group by event_id
having count(*) > 1


