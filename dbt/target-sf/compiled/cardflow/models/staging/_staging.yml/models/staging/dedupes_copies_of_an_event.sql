

with  __dbt__cte__raw__events as (

-- Fixture for events
select 
    
        try_cast('e1' as character varying)
     as "EVENT_ID", 
    
        try_cast('orders' as character varying)
     as "SOURCE", 
    
        try_cast('OrderCreated' as character varying)
     as "EVENT_TYPE", 
    
    cast('{"order_id":"O1","order_ts":"2026-10-01T09:59:00+00:00","customer_id":"C1","sku":"S1","quantity":1,"price":{"units":100,"scale":2},"status":"CREATED"}' as VARIANT)
    
     as "PAYLOAD", 
    
        try_cast('2026-10-01 10:00:00+00' as TIMESTAMP_TZ)
     as "INSERTED_AT", 
    
        try_cast('2026-10-01 11:00:00+00' as TIMESTAMP_TZ)
     as "INGESTED_AT", 
    
        try_cast('f1' as character varying)
     as "FILE_NAME", 
    
        try_cast('1' as NUMBER(38,0))
     as "FILE_ROW_NUMBER", 
    
        try_cast('2026-10-01 12:00:00+00' as TIMESTAMP_TZ)
     as "LOADED_AT"
union all
select 
    
        try_cast('e1' as character varying)
     as "EVENT_ID", 
    
        try_cast('orders' as character varying)
     as "SOURCE", 
    
        try_cast('OrderCreated' as character varying)
     as "EVENT_TYPE", 
    
    cast('{"order_id":"O1","order_ts":"2026-10-01T09:59:00+00:00","customer_id":"C1","sku":"S1","quantity":1,"price":{"units":100,"scale":2},"status":"CREATED"}' as VARIANT)
    
     as "PAYLOAD", 
    
        try_cast('2026-10-01 10:00:00+00' as TIMESTAMP_TZ)
     as "INSERTED_AT", 
    
        try_cast('2026-10-01 11:05:00+00' as TIMESTAMP_TZ)
     as "INGESTED_AT", 
    
        try_cast('f2' as character varying)
     as "FILE_NAME", 
    
        try_cast('7' as NUMBER(38,0))
     as "FILE_ROW_NUMBER", 
    
        try_cast('2026-10-01 12:00:00+00' as TIMESTAMP_TZ)
     as "LOADED_AT"
union all
select 
    
        try_cast('e2' as character varying)
     as "EVENT_ID", 
    
        try_cast('orders' as character varying)
     as "SOURCE", 
    
        try_cast('OrderCreated' as character varying)
     as "EVENT_TYPE", 
    
    cast('{"order_id":"O2","order_ts":"2026-10-01T09:59:00+00:00","customer_id":"C1","sku":"S1","quantity":1,"price":{"units":100,"scale":2},"status":"CREATED"}' as VARIANT)
    
     as "PAYLOAD", 
    
        try_cast('2026-10-01 10:00:00+00' as TIMESTAMP_TZ)
     as "INSERTED_AT", 
    
        try_cast('2026-10-01 11:00:00+00' as TIMESTAMP_TZ)
     as "INGESTED_AT", 
    
        try_cast('f1' as character varying)
     as "FILE_NAME", 
    
        try_cast('2' as NUMBER(38,0))
     as "FILE_ROW_NUMBER", 
    
        try_cast('2026-10-01 12:00:00+00' as TIMESTAMP_TZ)
     as "LOADED_AT"
union all
select 
    
        try_cast('e2' as character varying)
     as "EVENT_ID", 
    
        try_cast('orders' as character varying)
     as "SOURCE", 
    
        try_cast('OrderCreated' as character varying)
     as "EVENT_TYPE", 
    
    cast('{"order_id":"O2","order_ts":"2026-10-01T09:59:00+00:00","customer_id":"C1","sku":"S1","quantity":1,"price":{"units":100,"scale":2},"status":"CREATED"}' as VARIANT)
    
     as "PAYLOAD", 
    
        try_cast('2026-10-01 10:00:00+00' as TIMESTAMP_TZ)
     as "INSERTED_AT", 
    
        try_cast('2026-10-01 11:00:00+00' as TIMESTAMP_TZ)
     as "INGESTED_AT", 
    
        try_cast('f1' as character varying)
     as "FILE_NAME", 
    
        try_cast('9' as NUMBER(38,0))
     as "FILE_ROW_NUMBER", 
    
        try_cast('2026-10-01 12:00:00+00' as TIMESTAMP_TZ)
     as "LOADED_AT"
union all
select 
    
        try_cast('e3' as character varying)
     as "EVENT_ID", 
    
        try_cast('orders' as character varying)
     as "SOURCE", 
    
        try_cast('OrderCreated' as character varying)
     as "EVENT_TYPE", 
    
    cast('["O3", "S1"]' as VARIANT)
    
     as "PAYLOAD", 
    
        try_cast('2026-10-01 10:00:00+00' as TIMESTAMP_TZ)
     as "INSERTED_AT", 
    
        try_cast('2026-10-01 11:00:00+00' as TIMESTAMP_TZ)
     as "INGESTED_AT", 
    
        try_cast('f1' as character varying)
     as "FILE_NAME", 
    
        try_cast('3' as NUMBER(38,0))
     as "FILE_ROW_NUMBER", 
    
        try_cast('2026-10-01 12:00:00+00' as TIMESTAMP_TZ)
     as "LOADED_AT"
), raw_events as (

    select * from __dbt__cte__raw__events
    where event_type = 'OrderCreated'

),

candidates as (

    select * from raw_events

),

latest_copy as (

    select * from candidates
    qualify row_number() over (
        partition by event_id
        order by inserted_at desc, ingested_at desc, loaded_at desc, file_name desc, file_row_number desc
    ) = 1

),

typed as (

    select
        -- ids
        event_id,
        try_cast(payload:order_id::varchar as varchar) as order_id,
        try_cast(payload:customer_id::varchar as varchar) as customer_id,
        try_cast(payload:sku::varchar as varchar) as sku,

        -- numerics
        try_cast(payload:quantity::varchar as number(38, 0)) as quantity,
        cast(
        try_cast(payload:price:units::varchar as number(18, 0))
        * case payload:price:scale::varchar
        when '0' then cast('1' as number(5, 4))
        when '1' then cast('0.1' as number(5, 4))
        when '2' then cast('0.01' as number(5, 4))
        when '3' then cast('0.001' as number(5, 4))
        when '4' then cast('0.0001' as number(5, 4))
    end
        as number(38, 4)
    ) as unit_price,

        -- categories
        try_cast(payload:status::varchar as varchar) as status,

        -- timestamps (UTC)
        try_cast(payload:order_ts::varchar as timestamp_tz) as order_ts,
        inserted_at as event_inserted_at,
        ingested_at,
        loaded_at,

        -- lineage
        file_name,
        file_row_number

    from latest_copy
    where case
        when not coalesce(left(to_json(payload), 1) = '{', false) then 'payload_not_object'
        when coalesce(payload:order_id::varchar, '') = '' then 'missing_field:order_id'
        when coalesce(payload:order_ts::varchar, '') = '' then 'missing_field:order_ts'
        when try_cast(payload:order_ts::varchar as timestamp_tz) is null then 'bad_type:order_ts'
        when coalesce(payload:customer_id::varchar, '') = '' then 'missing_field:customer_id'
        when coalesce(payload:sku::varchar, '') = '' then 'missing_field:sku'
        when coalesce(payload:quantity::varchar, '') = '' then 'missing_field:quantity'
        when try_cast(payload:quantity::varchar as number(38, 0)) is null then 'bad_type:quantity'
        when payload:price:units::varchar is null
             or payload:price:scale::varchar is null then 'missing_field:price'
        when cast(
        try_cast(payload:price:units::varchar as number(18, 0))
        * case payload:price:scale::varchar
        when '0' then cast('1' as number(5, 4))
        when '1' then cast('0.1' as number(5, 4))
        when '2' then cast('0.01' as number(5, 4))
        when '3' then cast('0.001' as number(5, 4))
        when '4' then cast('0.0001' as number(5, 4))
    end
        as number(38, 4)
    ) is null then 'bad_decimal:price'
        when coalesce(payload:status::varchar, '') = '' then 'missing_field:status'
    end is null

)

select * from typed