
    
    



select is_current
from CARDFLOW.GOLD.dim_card_history
where is_current is null


