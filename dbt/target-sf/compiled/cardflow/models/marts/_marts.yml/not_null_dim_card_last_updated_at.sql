
    
    



select last_updated_at
from CARDFLOW.GOLD.dim_card
where last_updated_at is null


