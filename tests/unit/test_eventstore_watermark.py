"""tasks.watermark: the state round-trips, a missing state is empty, a corrupt one says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardflow.bronze.store import LocalBronzeStore
from cardflow.errors import StorageError
from cardflow.sources.eventstore.extract import BEGINNING, Position
from cardflow.sources.eventstore.watermark import BackfillState, load_state, save_state


def test_state_round_trip(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    key = "bronze/_state/backfill-events.json"
    assert load_state(store, key) == BackfillState()
    state = BackfillState(
        watermark=Position("2026-10-05T20:11:03.123456+00:00", "6f1c9a43-0000-4000-8000-000000000001"),
        pending_objects=[{"key": "k", "rows": 1, "sha256": "x", "bytes": 2}],
        run_id="r1",
    )
    save_state(store, key, state)
    assert load_state(store, key) == state


def test_corrupt_state_names_the_key_and_the_remedy(tmp_path: Path) -> None:
    store = LocalBronzeStore(tmp_path)
    store.write_bytes("s.json", b"{not json")
    with pytest.raises(StorageError, match="full_refresh"):
        load_state(store, "s.json")


def test_positions_order_like_postgres() -> None:
    a = Position("2026-10-05T20:11:03.123456+00:00", "00000000-0000-4000-8000-000000000002")
    b = Position("2026-10-05T20:11:03.123456+00:00", "10000000-0000-4000-8000-000000000001")
    c = Position("2026-10-05T20:11:03.123457+00:00", "00000000-0000-4000-8000-000000000000")
    assert BEGINNING < a < b < c
