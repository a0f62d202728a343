
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