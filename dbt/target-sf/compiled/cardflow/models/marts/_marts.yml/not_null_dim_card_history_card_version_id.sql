
    
    



select card_version_id
from CARDFLOW.GOLD.dim_card_history
where card_version_id is null


