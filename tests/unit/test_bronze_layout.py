"""Bronze key layout: partition folders, deterministic part ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cardflow.bronze.layout import bronze_key, is_part_key, manifest_key, part_id, quarantine_key, state_key


def test_bronze_key_layout_uses_utc_hour() -> None:
    ts = datetime(2026, 10, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    key = bronze_key("bronze", "orders", "OrderCreated", ts, "abc")
    assert key == "bronze/source=orders/type=OrderCreated/dt=2026-09-30/hour=23/part-abc.json.gz"
    assert is_part_key(key)


def test_empty_prefix_is_allowed() -> None:
    ts = datetime(2026, 10, 1, tzinfo=UTC)
    assert bronze_key("", "cards", "CardCatalogEntryInserted", ts, "x").startswith("source=cards/")


def test_part_id_is_deterministic_and_order_sensitive() -> None:
    assert part_id(["a", "b"]) == part_id(["a", "b"])
    assert part_id(["a", "b"]) != part_id(["b", "a"])
    assert part_id(["ab"]) != part_id(["a", "b"])


def test_non_data_keys_are_not_parts() -> None:
    ts = datetime(2026, 10, 1, tzinfo=UTC)
    assert not is_part_key(quarantine_key("bronze", "backfill", ts, "x"))
    assert not is_part_key(state_key("bronze", "backfill_watermark"))
    assert not is_part_key(manifest_key("bronze", "backfill", "run-1"))
