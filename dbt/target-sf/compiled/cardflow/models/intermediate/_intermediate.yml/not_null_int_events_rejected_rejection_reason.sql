
    
    



select rejection_reason
from CARDFLOW.SILVER.int_events_rejected
where rejection_reason is null


