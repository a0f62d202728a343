
    
    



select valid_from
from CARDFLOW.GOLD.dim_card_history
where valid_from is null


