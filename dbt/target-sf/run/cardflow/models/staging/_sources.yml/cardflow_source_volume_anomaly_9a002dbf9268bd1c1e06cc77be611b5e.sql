
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with bounds as (

    select
        max(inserted_at) as window_end,
        

    dateadd(
        hour,
        -24,
        max(inserted_at)
        )

 as window_start,
        

    dateadd(
        hour,
        -192,
        max(inserted_at)
        )

 as history_start,
        min(inserted_at) as first_seen
    from CARDFLOW.RAW.events

),

counts as (

    select
        sum(case when inserted_at > bounds.window_start then 1 else 0 end) as latest_count,
        sum(case when inserted_at > bounds.history_start and inserted_at <= bounds.window_start
                 then 1 else 0 end) as history_count,
        -- whole days of history actually covered (a young table has fewer than lookback_days)
        least(7, datediff(
        hour,
        bounds.first_seen,
        bounds.window_start
        ) / 24) as history_days
    from CARDFLOW.RAW.events
    cross join bounds
    group by bounds.first_seen, bounds.window_start

),

compared as (

    select
        latest_count,
        history_count,
        history_days,
        cast(history_count as float) / history_days as average_count
    from counts
    where history_days >= 1 and history_count > 0

)

select *
from compared
where abs(latest_count - average_count) * 100 > 50.0 * average_count


  
  
      
    ) dbt_internal_test