
    
    



select card_name
from CARDFLOW.GOLD.dim_card
where card_name is null


