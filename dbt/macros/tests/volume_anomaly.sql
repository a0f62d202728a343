{#
  Volume anomaly: the events of the latest 24 hours (ending at the newest `column_name` value)
  against the average 24-hour volume of the `lookback_days` days before; fails with one row when
  they differ by more than `pct` percent. Windows end at the newest event rather than at midnight,
  so a partially loaded current day is not an anomaly. Passes when there is no history yet.
  pct and lookback_days come from VOLUME_ANOMALY_PCT / VOLUME_ANOMALY_LOOKBACK_DAYS.
#}
{% test volume_anomaly(model, column_name, pct=50, lookback_days=7) %}

{%- set lookback = lookback_days | int %}

with bounds as (

    select
        max({{ column_name }}) as window_end,
        {{ dbt.dateadd('hour', -24, 'max(' ~ column_name ~ ')') }} as window_start,
        {{ dbt.dateadd('hour', -24 * (lookback + 1), 'max(' ~ column_name ~ ')') }} as history_start,
        min({{ column_name }}) as first_seen
    from {{ model }}

),

counts as (

    select
        sum(case when {{ column_name }} > bounds.window_start then 1 else 0 end) as latest_count,
        sum(case when {{ column_name }} > bounds.history_start and {{ column_name }} <= bounds.window_start
                 then 1 else 0 end) as history_count,
        -- whole days of history actually covered (a young table has fewer than lookback_days)
        least({{ lookback }}, {{ dbt.datediff('bounds.first_seen', 'bounds.window_start', 'hour') }} / 24) as history_days
    from {{ model }}
    cross join bounds
    group by bounds.first_seen, bounds.window_start

),

compared as (

    select
        latest_count,
        history_count,
        history_days,
        cast(history_count as {{ dbt.type_float() }}) / history_days as average_count
    from counts
    where history_days >= 1 and history_count > 0

)

select *
from compared
where abs(latest_count - average_count) * 100 > {{ pct | float }} * average_count

{% endtest %}
