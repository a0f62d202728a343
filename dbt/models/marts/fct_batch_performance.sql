{{ config(
    materialized='incremental',
    unique_key='batch_id',
    post_hook="{{ cardflow.record_silver_processed_through(ref('stg_manufacturing_batch')) }}",
) }}

{#
  One row per batch_id (the latest ManufacturingBatch event of a batch wins), with exact estimated
  defects and good units: quantity_produced * defect_rate_estimate in decimal arithmetic.
  Incremental like fct_orders: batches with Silver events not reflected in Gold are recomputed,
  looking only at the Silver rows written since this model's last build looked.
#}

{#- Silver is named in each CTE instead of one shared import CTE: DuckDB materializes a CTE
    referenced twice, which would copy all of Silver on every incremental run. -#}
with
{% if is_incremental() -%}

touched_batches as (

    select distinct batches.batch_id
    from {{ ref('stg_manufacturing_batch') }} as batches
    left join {{ this }} as current_gold on batches.batch_id = current_gold.batch_id
    -- Silver rows written since this model's last build looked (macros/examined_through.sql)
    where {{ cardflow.silver_rows_since_last_build('batches.processed_at') }}
    and (
        current_gold.batch_id is null
        or batches.event_inserted_at > current_gold.event_inserted_at
        or (
            batches.event_inserted_at = current_gold.event_inserted_at
            and (
                {{ cardflow.differs('batches.sku', 'current_gold.sku') }}
                or {{ cardflow.differs('batches.production_date', 'current_gold.production_date') }}
                or {{ cardflow.differs('batches.quantity_produced', 'current_gold.quantity_produced') }}
                or {{ cardflow.differs('batches.defect_rate_estimate', 'current_gold.defect_rate_estimate') }}
            )
        )
    )

),

candidates as (

    select * from {{ ref('stg_manufacturing_batch') }}
    where batch_id in (select batch_id from touched_batches)

),
{%- else -%}
candidates as (

    select * from {{ ref('stg_manufacturing_batch') }}

),
{%- endif %}

latest_event as (

    select * from candidates
    {{ cardflow.keep_latest('batch_id', ['event_inserted_at', 'event_id']) }}

),

final as (

    select
        batch_id,
        sku,
        production_date,
        quantity_produced,
        defect_rate_estimate,
        cast(quantity_produced * defect_rate_estimate as {{ cardflow.exact_decimal_type(var('decimal_scale')) }}) as estimated_defects,
        cast(quantity_produced - quantity_produced * defect_rate_estimate as {{ cardflow.exact_decimal_type(var('decimal_scale')) }})
            as estimated_good_units,
        event_inserted_at

    from latest_event

)

select * from final
