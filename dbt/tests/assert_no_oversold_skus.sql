{{ config(severity='warn') }}

-- Oversold SKUs: more units sold than estimated good units produced. A warning, not an error:
-- the estimate is an estimate, and sales ahead of production happen (pre-orders); it goes into the
-- run's artifact for the planners.
select sku, units_sold, estimated_good_units
from {{ ref('fct_sku_supply_demand') }}
where is_oversold
