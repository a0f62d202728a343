"""tasks.partitions: the whole-string checks never let a non-canonical row through, and a prepared
part is exactly what the contract's own rendering gives, in event_id order, under its part id."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from cardflow.bronze.layout import part_id
from cardflow.contract import dumps_record, format_timestamp, validate_envelope
from cardflow.errors import EventStoreError
from cardflow.sources.eventstore.extract import PartitionGroup
from cardflow.sources.eventstore.partitions import compact, prepare_group, text_checks_pass, text_profile

INGESTED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = datetime(2026, 10, 5, 20, tzinfo=UTC)


def jsonb_text(value: Any) -> str:
    """What Postgres prints for a jsonb value: keys shorter-first then bytewise, ': ' and ', '."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return (
            "{"
            + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(value[k])}" for k in keys)
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def order(**overrides: Any) -> dict[str, Any]:
    payload = {
        "order_id": "ORD-1",
        "order_ts": "2026-10-05T20:11:03.123456+00:00",
        "customer_id": "CUST-000001",
        "sku": "BAS-2026-00001",
        "quantity": 2,
        "price": {"units": 1250, "scale": 2},
        "status": "PAID",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not ...}


def sql_line(
    payload: Any,
    *,
    event_id: str,
    ok: bool = True,
    event_type: str = "OrderCreated",
    source: str = "orders",
    inserted_at: datetime = HOUR,
) -> str:
    """A line as sql/backfill_chunk.sql renders it: accepted rows with the payload's separators
    compacted by Postgres' two ``replace`` calls, or '?'-marked raw rows. The event store's own text
    is kept for :func:`read_originals`."""
    head = "" if ok else "?"
    ts = format_timestamp(inserted_at)
    text = jsonb_text(payload)
    STORED[event_id] = text
    if ok:
        text = text.replace('": ', '":').replace(", ", ",")
    return (
        f'{head}{{"event_id":"{event_id}","source":{json.dumps(source)},"event_type":{json.dumps(event_type)},'
        f'"payload":{text},"inserted_at":"{ts}","ingested_at":"{format_timestamp(INGESTED)}"}}\n'
    )


#: the event store's payload text of the lines sql_line rendered last, by event id
STORED: dict[str, str] = {}


def read_originals(keys: list[tuple[str, str]]) -> dict[str, str]:
    """What OriginalPayloads reads from Postgres, for lines sql_line rendered."""
    assert all(ts == format_timestamp(HOUR) for ts, _ in keys), keys
    return {event_id: STORED[event_id] for _, event_id in keys if event_id in STORED}


def expected_line(payload: Any, event_id: str, inserted_at: datetime = HOUR) -> str:
    # the event store path: psycopg2 gives the payload parsed from jsonb's text (jsonb key order)
    parsed = json.loads(jsonb_text(payload))
    row = {
        "event_id": event_id,
        "source": "orders",
        "event_type": "OrderCreated",
        "payload": parsed,
        "inserted_at": inserted_at,
    }
    return dumps_record(validate_envelope(row).to_bronze(INGESTED))


def group(lines: list[str], event_type: str = "OrderCreated", source: str = "orders") -> PartitionGroup:
    return PartitionGroup(source, event_type, "2026-10-05T20", len(lines), "".join(lines).encode("utf-8"))


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=(i + 1) * 7919 + 13, version=4)) for i in range(n)]


def test_a_batch_date_is_checked_on_the_calendar() -> None:
    profile = text_profile("ManufacturingBatch")
    assert profile is not None

    def batch(day: str) -> bytes:
        payload = {
            "batch_id": "B1",
            "sku": "S",
            "production_date": day,
            "quantity_produced": 5,
            "defect_rate_estimate": {"units": 12, "scale": 4},
        }
        return sql_line(
            payload, event_id=ids(1)[0], event_type="ManufacturingBatch", source="manufacturing"
        ).encode()

    assert text_checks_pass(batch("2024-02-29"), 1, profile)
    assert not text_checks_pass(batch("2026-02-29"), 1, profile)
    assert not text_checks_pass(batch("2026-13-01"), 1, profile)


def test_profile_counts_follow_the_contract() -> None:
    p = text_profile("OrderCreated")
    assert p is not None and (p.keys, p.separators, p.dots) == (9, 7, 3)
    assert text_profile("Nope") is None


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (order(extra="x"), "extra key"),
        (order(customer_id='a": b'), "separator inside a string"),
        (order(sku="a, b"), "comma-space inside a string"),
        (order(quantity=1.5), "fraction in an int"),
        (order(order_ts="2026-10-05T20:11:03+00:00"), "timestamp without fraction (valid, not canonical)"),
        (order(order_ts="0000-10-05T20:11:03.123456+00:00"), "year 0000"),
        (order(order_ts=" 026-10-05T20:11:03.123456+00:00"), "space instead of a digit"),
        (order(price={"units": 1, "scale": 2, "x": 1}), "extra decimal key"),
        (order(customer_id="Jr: x"), "colon in a string"),
        (order(quantity=10**19), "int beyond 18 digits (judged by the contract)"),
        (order(quantity=10**6, price={"units": 10**17, "scale": 0}), "order total beyond NUMBER(38, 18)"),
        (order(status="LOST"), "status not in the contract"),
        (order(sku=""), "empty string"),
        (order(sku=7), "number instead of a string"),
        (order(quantity="1"), "string instead of an int"),
        (order(quantity=True), "bool instead of an int"),
        (order(quantity=None), "null"),
        (order(price={"units": "1", "scale": 2}), "decimal units as a string"),
        (order(price=5), "decimal as a number"),
        (order(order_ts="2026-02-30T20:11:03.123456+00:00"), "impossible date"),
        (order(order_ts="2026-10-05T24:11:03.123456+00:00"), "impossible hour"),
        (order(order_ts=..., order=1), "missing field (replaced by another)"),
    ],
)
def test_text_checks_refuse_what_is_not_certainly_canonical(payload: dict[str, Any], why: str) -> None:
    profile = text_profile("OrderCreated")
    assert profile is not None
    good = sql_line(order(), event_id=ids(1)[0]).encode()
    assert text_checks_pass(good, 1, profile)
    bad = sql_line(payload, event_id=ids(2)[1]).encode()
    assert not text_checks_pass(good + bad, 2, profile), why
    assert not text_checks_pass(bad, 1, profile), why


def test_marked_lines_are_never_bulk_accepted() -> None:
    profile = text_profile("OrderCreated")
    assert profile is not None
    assert not text_checks_pass(sql_line(order(), event_id=ids(1)[0], ok=False).encode(), 1, profile)


def test_compaction_equals_json_dumps() -> None:
    payload = order(customer_id='Ünïcødé 🎴 \u2028 tab\t \\ "q"')
    spaced = jsonb_text(payload).encode()
    assert compact(spaced).decode() == json.dumps(
        json.loads(spaced), ensure_ascii=False, separators=(",", ":")
    )


def test_fast_group_equals_contract_rendering_sorted_by_event_id() -> None:
    event_ids = ids(5)
    payloads = [order(order_id=f"ORD-{i}", quantity=i) for i in range(5)]
    lines = [sql_line(p, event_id=e) for p, e in zip(payloads, event_ids, strict=True)]
    part = prepare_group(group(list(reversed(lines))), ingested_at=INGESTED)
    assert part.slow_lines == 0 and part.rows == 5 and part.body is not None
    expected = sorted(expected_line(p, e) for p, e in zip(payloads, event_ids, strict=True))
    assert part.body.decode().splitlines() == expected
    assert part.part_id == part_id(sorted(event_ids))


def test_slow_lines_are_judged_by_the_contract() -> None:
    a, b, c, d = ids(4)
    lines = [
        sql_line(order(), event_id=a),
        sql_line(order(customer_id="St: Louis"), event_id=b),  # valid, but a colon: slow path
        sql_line(["not", "an", "object"], event_id=c),
        sql_line(order(status="LOST"), event_id=d),
    ]
    part = prepare_group(group(lines), ingested_at=INGESTED)
    assert part.rows == 2 and part.slow_lines == 3
    assert part.body is not None
    assert part.body.decode().splitlines() == sorted(
        [expected_line(order(), a), expected_line(order(customer_id="St: Louis"), b)]
    )
    reasons = {e["record"]["event_id"]: e["reason"] for e in part.quarantine}
    assert reasons == {c: "payload_not_object", d: "bad_status"}


def test_rows_already_in_bronze_are_dropped() -> None:
    a, b = ids(2)
    lines = [sql_line(order(), event_id=a), sql_line(order(order_id="ORD-2"), event_id=b)]
    part = prepare_group(group(lines), ingested_at=INGESTED, existing={a})
    assert part.skipped_existing == 1 and part.rows == 1
    assert part.part_id == part_id([b])
    nothing = prepare_group(group(lines), ingested_at=INGESTED, existing={a, b})
    assert nothing.body is None and nothing.rows == 0


def test_one_rows_surplus_never_cancels_anothers_deficit() -> None:
    """The issue's counterexample: a row missing customer_id plus a row with an extra key
    ``x"customer_id`` kept the whole-group substring counts right; per line, both are refused."""
    profile = text_profile("OrderCreated")
    assert profile is not None
    missing = {k: v for k, v in order().items() if k != "customer_id"}
    extra = order(**{'x"customer_id': "C"})
    body = (sql_line(missing, event_id=ids(2)[0]) + sql_line(extra, event_id=ids(2)[1])).encode()
    assert not text_checks_pass(body, 2, profile)
    prepared = prepare_group(group([sql_line(missing, event_id=ids(2)[0]), sql_line(extra, event_id=ids(2)[1])]),
                             ingested_at=INGESTED, originals=read_originals)  # fmt: skip
    assert [e["reason"] for e in prepared.quarantine] == ["missing_field"]
    assert prepared.rows == 1


def test_dots_in_strings_take_the_fast_path() -> None:
    profile = text_profile("OrderCreated")
    assert profile is not None
    assert text_checks_pass(sql_line(order(customer_id="Jr."), event_id=ids(1)[0]).encode(), 1, profile)


def test_a_string_the_compaction_altered_is_judged_on_the_event_stores_text() -> None:
    """Postgres' replace turns "a, b" into "a,b" and 'x": y' into 'x":y'; such a line is judged on
    its original text, read again, and lands with the string as the producer wrote it."""
    a, b, c, d = ids(4)
    payloads = {
        a: order(),
        b: order(sku="a, b"),
        c: order(customer_id='He said: "hi", then left'),
        d: order(customer_id="St: Louis"),  # a colon only: nothing altered, judged as it came
    }
    asked: list[list[tuple[str, str]]] = []

    def reader(keys: list[tuple[str, str]]) -> dict[str, str]:
        asked.append(list(keys))
        return read_originals(keys)

    part = prepare_group(group([sql_line(p, event_id=e) for e, p in payloads.items()]), ingested_at=INGESTED,
                         originals=reader)  # fmt: skip
    assert part.body is not None and part.rows == 4 and not part.quarantine
    assert part.body.decode().splitlines() == sorted(expected_line(p, e) for e, p in payloads.items())
    assert asked == [[(format_timestamp(HOUR), b), (format_timestamp(HOUR), c)]]  # one read, only those two


def test_a_line_that_needs_its_original_text_never_lands_without_it() -> None:
    event_id = ids(1)[0]
    lines = [sql_line(order(sku="a, b"), event_id=event_id)]
    with pytest.raises(EventStoreError, match="original payload"):
        prepare_group(group(lines), ingested_at=INGESTED)
    with pytest.raises(EventStoreError, match="no longer in the event store"):
        prepare_group(group(lines), ingested_at=INGESTED, originals=lambda keys: {})
    changed = jsonb_text(order(sku="a, c"))
    with pytest.raises(EventStoreError, match="changed in the event store"):
        prepare_group(group(lines), ingested_at=INGESTED, originals=lambda keys: {event_id: changed})

