import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    CREATED: _ClassVar[OrderStatus]
    PAID: _ClassVar[OrderStatus]
    SHIPPED: _ClassVar[OrderStatus]
    CANCELLED: _ClassVar[OrderStatus]
ORDER_STATUS_UNSPECIFIED: OrderStatus
CREATED: OrderStatus
PAID: OrderStatus
SHIPPED: OrderStatus
CANCELLED: OrderStatus

class Decimal(_message.Message):
    __slots__ = ("units", "scale")
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    units: int
    scale: int
    def __init__(self, units: _Optional[int] = ..., scale: _Optional[int] = ...) -> None: ...

class CardCatalogEntryInserted(_message.Message):
    __slots__ = ("sku", "card_name", "sport", "player_name", "team_name", "parallel", "print_run")
    SKU_FIELD_NUMBER: _ClassVar[int]
    CARD_NAME_FIELD_NUMBER: _ClassVar[int]
    SPORT_FIELD_NUMBER: _ClassVar[int]
    PLAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_NAME_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    PRINT_RUN_FIELD_NUMBER: _ClassVar[int]
    sku: str
    card_name: str
    sport: str
    player_name: str
    team_name: str
    parallel: str
    print_run: int
    def __init__(self, sku: _Optional[str] = ..., card_name: _Optional[str] = ..., sport: _Optional[str] = ..., player_name: _Optional[str] = ..., team_name: _Optional[str] = ..., parallel: _Optional[str] = ..., print_run: _Optional[int] = ...) -> None: ...

class OrderCreated(_message.Message):
    __slots__ = ("order_id", "order_ts", "customer_id", "sku", "quantity", "price", "status")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_TS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    order_ts: _timestamp_pb2.Timestamp
    customer_id: str
    sku: str
    quantity: int
    price: Decimal
    status: OrderStatus
    def __init__(self, order_id: _Optional[str] = ..., order_ts: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., customer_id: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ..., price: _Optional[_Union[Decimal, _Mapping]] = ..., status: _Optional[_Union[OrderStatus, str]] = ...) -> None: ...

class ManufacturingBatch(_message.Message):
    __slots__ = ("batch_id", "sku", "production_date", "quantity_produced", "defect_rate_estimate")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    PRODUCTION_DATE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_PRODUCED_FIELD_NUMBER: _ClassVar[int]
    DEFECT_RATE_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    sku: str
    production_date: str
    quantity_produced: int
    defect_rate_estimate: Decimal
    def __init__(self, batch_id: _Optional[str] = ..., sku: _Optional[str] = ..., production_date: _Optional[str] = ..., quantity_produced: _Optional[int] = ..., defect_rate_estimate: _Optional[_Union[Decimal, _Mapping]] = ...) -> None: ...

class EventEnvelope(_message.Message):
    __slots__ = ("event_id", "source", "event_type", "inserted_at", "card_catalog_entry_inserted", "order_created", "manufacturing_batch")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSERTED_AT_FIELD_NUMBER: _ClassVar[int]
    CARD_CATALOG_ENTRY_INSERTED_FIELD_NUMBER: _ClassVar[int]
    ORDER_CREATED_FIELD_NUMBER: _ClassVar[int]
    MANUFACTURING_BATCH_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    source: str
    event_type: str
    inserted_at: _timestamp_pb2.Timestamp
    card_catalog_entry_inserted: CardCatalogEntryInserted
    order_created: OrderCreated
    manufacturing_batch: ManufacturingBatch
    def __init__(self, event_id: _Optional[str] = ..., source: _Optional[str] = ..., event_type: _Optional[str] = ..., inserted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., card_catalog_entry_inserted: _Optional[_Union[CardCatalogEntryInserted, _Mapping]] = ..., order_created: _Optional[_Union[OrderCreated, _Mapping]] = ..., manufacturing_batch: _Optional[_Union[ManufacturingBatch, _Mapping]] = ...) -> None: ...
