{#
  Incremental helpers.

  Silver reads RAW rows loaded since its watermark (max loaded_at already in Silver) minus a
  lookback window, then recomputes the dedupe for every event_id those rows touch, over ALL raw
  rows of that event_id, so an incremental run gives exactly what a full refresh would.
#}

{#
  predicate on RAW.loaded_at selecting rows not yet seen by `this` (a Silver model): newer than
  what its last build examined (macros/examined_through.sql) or, without that record, than the
  newest row it holds; minus the lookback either way
#}
{% macro raw_rows_since_watermark(loaded_at_column='loaded_at') -%}
    {%- set lookback = -1 * (var('incremental_lookback_minutes') | int) -%}
    {%- set examined = cardflow.examined_through(this) -%}
    {%- if examined is not none -%}
    {{ loaded_at_column }} > {{ dbt.dateadd('minute', lookback, examined) }}
    {%- else -%}
    {{ loaded_at_column }} > (
        select {{ dbt.dateadd('minute', lookback, 'max(loaded_at)') }}
        from {{ this }}
    )
    or (select count(*) from {{ this }}) = 0
    {%- endif -%}
{%- endmacro %}

{#
  Dedupe: one row per `key`, keeping the latest `order_by` (a list, most significant first, each
  sorted descending); the list must end in columns that make the order total (tie-break), so the
  choice is deterministic.
#}
{% macro keep_latest(key, order_by) -%}
    qualify row_number() over (
        partition by {{ key }}
        order by {% for column in order_by %}{{ column }} desc{% if not loop.last %}, {% endif %}{% endfor %}
    ) = 1
{%- endmacro %}

{#
  The one rule for copies of one event_id (also cardflow.sources.mq.landing.copy_rank): latest
  inserted_at, then latest ingested_at, then the larger MD5 of the payload text. Content decides,
  never load timing, so conflicting copies (same event_id, different content) resolve the same way
  on every run and path; they are counted in int_event_conflicts. Load position only breaks ties
  between identical copies, where the choice does not matter.
#}
{% macro raw_event_order() -%}
    {{ return(['inserted_at', 'ingested_at', cardflow.payload_hash('payload'), 'loaded_at', 'file_name', 'file_row_number']) }}
{%- endmacro %}

{# MD5 (hex) of a payload's text: the content tie-break of raw_event_order #}
{% macro payload_hash(payload) -%}
    md5({{ cardflow.json_to_text(payload) }})
{%- endmacro %}

{#
  The import CTEs every Silver model starts with (the model passes source('raw', 'events') so dbt
  sees the dependency, also in unit tests), ending in `latest_copy`: the RAW rows of one
  event type (all types when None) (for an incremental run: only event_ids with a copy loaded since the watermark, with
  all their copies), deduplicated to the latest copy per event_id.
#}
{% macro latest_raw_copies(raw_relation, event_type=none) -%}
{%- set of_type = "event_type = '" ~ event_type ~ "'" if event_type else "true" -%}
{#- RAW is named in each CTE instead of one shared import CTE: DuckDB materializes a CTE that is
    referenced twice, which would copy every RAW payload on each incremental run. -#}
{% if is_incremental() -%}
touched_events as (

    -- event_ids with a copy loaded since the last run; all their copies are re-deduplicated
    select distinct event_id from {{ raw_relation }}
    where {{ of_type }} and ({{ cardflow.raw_rows_since_watermark() }})

),

candidates as (

    select * from {{ raw_relation }}
    where {{ of_type }} and event_id in (select event_id from touched_events)

),
{%- else -%}
candidates as (

    select * from {{ raw_relation }}
    where {{ of_type }}

),
{%- endif %}

latest_copy as (

    select * from candidates
    where {{ cardflow.not_held() }}
    {{ cardflow.keep_latest('event_id', cardflow.raw_event_order()) }}

)
{%- endmacro %}
