"""Landing a batch: deterministic keys and bytes, dedupe within a batch, quarantine, manifest last."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cardflow.bronze.layout import is_part_key
from cardflow.bronze.manifest import build_manifest, read_manifest_document, write_manifest
from cardflow.bronze.store import LocalBronzeStore
from cardflow.bronze.writer import decode_lines
from cardflow.dev.generator import EventGenerator, GeneratorConfig
from cardflow.errors import ManifestError
from cardflow.sources.mq.landing import land_messages, read_batch_landing
from cardflow.sources.mq.messages import PUBLISHED_AT_HEADER, RawMessage
from cardflow.sources.mq.outgoing import outgoing_for_event


def _messages(n: int, *, published_at: str = "2026-11-20T10:15:00.250000+00:00") -> list[RawMessage]:
    out = []
    for event in EventGenerator(GeneratorConfig(events=n, seed=3)):
        o = outgoing_for_event(event)
        out.append(
            RawMessage(o.body, o.content_type, headers=o.headers | {PUBLISHED_AT_HEADER: published_at})
        )
    return out


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_redelivered_batch_rewrites_same_keys_and_bytes(tmp_path: Path) -> None:
    """The same messages in another order (a redelivery) produce exactly the same objects."""
    store = LocalBronzeStore(tmp_path)
    batch = _messages(300)
    first = land_messages(batch, store, "bronze")
    before = _snapshot(tmp_path)
    shuffled = batch[:]
    random.Random(1).shuffle(shuffled)
    again = land_messages(shuffled, store, "bronze")
    assert _snapshot(tmp_path) == before
    assert again.counts() == first.counts()
    assert first.landed == 300
    # one object per (source, type) partition of the batch, partitioned by the bus time
    parts = [k for k in before if is_part_key(k)]
    assert len(parts) == len(first.objects) <= 3
    assert all("/dt=2026-11-20/hour=10/" in k for k in parts)


def test_ingested_at_is_the_latest_bus_time_not_the_clock(tmp_path: Path) -> None:
    batch = _messages(5, published_at="2026-11-20T09:00:00+00:00")
    late = RawMessage(
        batch[0].body,
        batch[0].content_type,
        headers=batch[0].headers | {PUBLISHED_AT_HEADER: "2026-11-20T09:30:00.5+00:00"},
    )
    result = land_messages([*batch[1:], late], LocalBronzeStore(tmp_path), "bronze")
    assert result.ingested_at == "2026-11-20T09:30:00.500000+00:00"
    assert result.ingested_at_source == "bus"
    records = [
        json.loads(line) for o in result.objects for line in decode_lines((tmp_path / o["key"]).read_bytes())
    ]
    assert {r["ingested_at"] for r in records} == {result.ingested_at}


def test_duplicates_in_a_batch_land_once_and_conflicts_are_quarantined(tmp_path: Path) -> None:
    batch = _messages(20)
    envelope = json.loads(batch[3].body)
    envelope["payload"] = {**envelope["payload"], "sku": "CHANGED"}
    conflicting = RawMessage(json.dumps(envelope).encode(), "application/json", headers=batch[3].headers)
    result = land_messages([*batch, batch[0], batch[1], conflicting], LocalBronzeStore(tmp_path), "bronze")
    assert result.landed == 20
    assert result.duplicates == 2
    assert result.quarantined == 1
    assert result.reasons == {"conflicting_duplicate": 1}


def test_conflicting_copies_in_a_batch_resolve_by_content_not_arrival(tmp_path: Path) -> None:
    """Whichever copy arrives first, the same one lands (latest inserted_at, then payload hash)."""
    batch = _messages(5)
    envelope = json.loads(batch[3].body)
    envelope["payload"] = {**envelope["payload"], "sku": "CHANGED"}
    conflicting = RawMessage(json.dumps(envelope).encode(), "application/json", headers=batch[3].headers)
    landed = []
    for order, messages in enumerate(([*batch, conflicting], [conflicting, *batch])):
        result = land_messages(messages, LocalBronzeStore(tmp_path / str(order)), "bronze")
        assert result.reasons == {"conflicting_duplicate": 1}
        landed.append(sorted((tmp_path / str(order) / o["key"]).read_bytes() for o in result.objects))
    assert landed[0] == landed[1]


def test_bad_messages_are_quarantined_with_reason_and_good_ones_land(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    good = _messages(10)
    bad = [
        RawMessage(b"\x00\x01binary", "application/octet-stream", headers={"k": "v"}),
        RawMessage(b"{oops", None),
    ]
    result = land_messages([*good[:5], *bad, *good[5:]], store, "bronze")
    assert (result.landed, result.quarantined) == (10, 2)
    assert result.reasons == {"not_json": 1, "unsupported_content_type": 1}
    (qkey,) = [q["key"] for q in result.quarantine]
    assert "/_quarantine/origin=realtime/" in qkey
    entries = [json.loads(line) for line in decode_lines(store.read_bytes(qkey))]
    by_reason = {e["reason"]: e for e in entries}
    assert by_reason["unsupported_content_type"]["record"]["data_base64"] == "AAFiaW5hcnk="
    assert by_reason["unsupported_content_type"]["record"]["headers"] == {"k": "v"}
    assert all(e["detail"] for e in entries)


def test_manifest_lists_every_object_with_checksums(tmp_path: Path) -> None:
    import hashlib

    store = LocalBronzeStore(tmp_path)
    result = land_messages([*_messages(50), RawMessage(b"nope", "text/plain")], store, "bronze")
    manifest = json.loads(store.read_bytes(result.manifest_key))
    assert manifest["origin"] == "realtime"
    assert manifest["rows"] == 50
    assert manifest["run_id"].endswith(result.batch_id)
    for obj in manifest["objects"] + manifest["quarantine"]:
        data = store.read_bytes(obj["key"])
        assert hashlib.sha256(data).hexdigest() == obj["sha256"]
        assert len(data) == obj["bytes"]
    assert manifest["quarantine"][0]["reasons"] == {"unsupported_content_type": 1}


def test_batch_without_any_time_falls_back_to_wall_clock(tmp_path: Path) -> None:
    result = land_messages([RawMessage(b"x", "text/plain")], LocalBronzeStore(tmp_path), "bronze")
    assert result.ingested_at_source == "wall_clock"
    assert result.quarantined == 1 and result.landed == 0


def test_empty_batch_writes_nothing(tmp_path: Path) -> None:
    result = land_messages([], LocalBronzeStore(tmp_path), "bronze")
    assert result.messages == 0 and result.manifest_key is None
    assert not any(tmp_path.iterdir())


def test_protobuf_and_json_batches_land_byte_identical_objects(tmp_path: Path) -> None:
    """Protobuf bodies (envelope in headers) and JSON bodies of the same events: same keys, same bytes."""
    stamp = {PUBLISHED_AT_HEADER: "2026-11-20T10:15:00+00:00"}
    events = list(EventGenerator(GeneratorConfig(events=120, seed=4)))
    lakes = {}
    for body_format in ("json", "protobuf"):
        batch = []
        for event in events:
            o = outgoing_for_event(event, body_format=body_format)
            batch.append(RawMessage(o.body, o.content_type, headers=o.headers | stamp, type=o.type))
        root = tmp_path / body_format
        result = land_messages(batch, LocalBronzeStore(root), "bronze")
        assert result.landed == 120
        lakes[body_format] = {k: v for k, v in _snapshot(root).items() if is_part_key(k)}
    assert lakes["protobuf"] == lakes["json"]


def test_manifest_read_back_gives_the_same_landing(tmp_path: Path) -> None:
    """What the recording flow reads from Bronze equals what the landing returned (counts, objects,
    quarantine, reasons): the manifest alone is enough to say what a batch landed."""
    store = LocalBronzeStore(tmp_path)
    batch = [*_messages(60), _messages(1)[0], RawMessage(b"nope", "text/plain"), RawMessage(b"{x", None)]
    result = land_messages(batch, store, "bronze")
    assert result.manifest_key is not None and result.duplicates == 1
    assert read_batch_landing(store, result.manifest_key) == result
    assert read_batch_landing(store, result.manifest_key, batch_id=result.batch_id).counts() == result.counts()


def test_the_loader_reads_what_the_mq_landing_lists(tmp_path: Path) -> None:
    """One manifest format: the MQ landing writes it through cardflow.bronze.manifest, and it lists
    exactly the part objects in Bronze (what the load's read_manifest consumes: key, rows, sha256)."""
    store = LocalBronzeStore(tmp_path)
    result = land_messages(_messages(30), store, "bronze")
    assert result.manifest_key is not None
    document = read_manifest_document(store, result.manifest_key)
    assert document == build_manifest(
        run_id=document["run_id"],
        origin="realtime",
        created_at=datetime.fromisoformat(result.ingested_at),
        objects=result.objects,
        quarantine=[],
        extra={"messages": 30, "duplicates": 0, "ingested_at_source": "bus"},
    )
    assert [o["key"] for o in document["objects"]] == sorted(k for k in _snapshot(tmp_path) if is_part_key(k))
    assert all({"key", "rows", "sha256", "bytes"} <= set(o) for o in document["objects"])


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "not found"),
        (b"{not json", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"run_id": "r", "origin": "realtime"}', "lacks objects"),
        (b'{"run_id": "r", "origin": "realtime", "objects": [{"rows": 1}]}', "entries with a key"),
    ],
)
def test_unreadable_manifests_say_what_is_wrong(tmp_path: Path, content: bytes | None, fragment: str) -> None:
    store = LocalBronzeStore(tmp_path)
    key = "bronze/_manifests/origin=realtime/20261120T000000000000Z-abc.json"
    if content is not None:
        store.write_bytes(key, content)
    with pytest.raises(ManifestError, match=fragment) as info:
        read_batch_landing(store, key)
    assert info.value.key == key


def test_a_backfill_manifest_is_not_a_batch(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    manifest = build_manifest(
        run_id="backfill-1", origin="backfill", created_at=datetime(2026, 11, 20, tzinfo=UTC), objects=[], quarantine=[]
    )
    key = write_manifest(store, "bronze", manifest)
    with pytest.raises(ManifestError, match="not a real-time batch manifest"):
        read_batch_landing(store, key)
