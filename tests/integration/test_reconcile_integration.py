"""Reconciliation against the real local PostgreSQL event store: a gap names its day and type."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from cardflow.backends.chooser import resolve_backends
from cardflow.bronze.layout import manifest_key
from cardflow.quality.reconcile import reconcile, reconcile_raw
from cardflow.settings import Settings
from cardflow.sources.eventstore import store as eventstore
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

pytestmark = pytest.mark.integration


def test_reconcile_joins_both_sides() -> None:
    day = datetime(2026, 11, 1, tzinfo=UTC).date()
    report = reconcile(
        {(day, "OrderCreated"): 10, (day, "ManufacturingBatch"): 2},
        {(day, "OrderCreated"): 7, (day, "CardCatalogEntryInserted"): 1},
    )
    by_type = {r.event_type: r for r in report.rows}
    assert by_type["OrderCreated"].missing_in_raw == 3
    assert by_type["ManufacturingBatch"].missing_in_raw == 2
    assert by_type["CardCatalogEntryInserted"].extra_in_raw == 1
    assert [r.event_type for r in report.gaps] == ["ManufacturingBatch", "OrderCreated"]
    assert "OrderCreated: 3 missing" in report.to_markdown()


def _with_key(rows: list[Any], origin: str) -> list[Any]:
    from dataclasses import replace

    return [
        replace(r, file_name=f"/lake/bronze/source={r.source}/type={r.event_type}/part-{origin}.json.gz")
        for r in rows
    ]


def test_gap_and_realtime_backfill_overlap(pg_settings: Settings) -> None:
    settings = pg_settings
    events, _ = generate(events=600, seed=21, anomalies=False, days=3, end=datetime(2026, 11, 1, tzinfo=UTC))
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, events, settings)
    # the load lost every OrderCreated event of the last day; 5 events also came through real time
    last_day = max(e["inserted_at"] for e in events).date()
    lost = [e for e in events if e["event_type"] == "OrderCreated" and e["inserted_at"].date() == last_day]
    loaded = [e for e in events if e not in lost]
    backfill = _with_key(raw_rows(loaded), "backfill")
    realtime = _with_key(raw_rows(loaded[-5:]), "realtime")
    insert_raw_duckdb(settings.duckdb_path, backfill + realtime)
    backends = resolve_backends(settings)
    store = backends.store()
    for origin, rows in (("backfill", backfill), ("realtime", realtime)):
        keys = sorted({r.file_name.split("/lake/", 1)[1] for r in rows})
        manifest = {"run_id": origin, "origin": origin, "objects": [{"key": k, "rows": 1} for k in keys]}
        store.write_bytes(manifest_key(settings.s3_prefix, origin, origin), json.dumps(manifest).encode())

    report = reconcile_raw(settings, store, backends.open_session)
    assert [(g.day, g.event_type, g.missing_in_raw) for g in report.gaps] == [
        (last_day, "OrderCreated", len(lost))
    ]
    overlap = Counter()
    for e in loaded[-5:]:
        overlap[(e["inserted_at"].date(), e["event_type"])] += 1
    assert {(r.day, r.event_type): r.overlap for r in report.rows if r.overlap} == dict(overlap)
    assert sum(r.raw for r in report.rows) == len(loaded)  # real-time copies count once (distinct)


def test_a_gap_raises_exactly_one_alert(pg_settings: Settings, slack: tuple[str, list[dict[str, Any]]]) -> None:
    """Fault injected: RAW lacks events of two day/type pairs (a lost load). The reconciliation task
    the nightly deployment runs posts one Slack alert naming the gaps, not one per pair; a clean
    reconciliation posts none."""
    from cardflow.quality.warnings import reconciliation_warnings
    from tasks.alerts import notify_quality_warnings
    from tasks.quality import reconcile_raw_task

    url, received = slack
    settings = pg_settings.model_copy(update={"slack_webhook_url": SecretStr(url)})
    events, _ = generate(events=300, seed=5, anomalies=False, days=2, end=datetime(2026, 11, 1, tzinfo=UTC))
    eventstore.bootstrap_event_store(settings)
    with eventstore.connect(settings) as conn:
        eventstore.insert_events(conn, events, settings)
    insert_raw_duckdb(settings.duckdb_path, raw_rows(events))
    def nightly_run() -> Any:  # what dbt_transform_and_test(reconcile=True) does with the report
        report = reconcile_raw_task.fn(settings)
        notify_quality_warnings(reconciliation_warnings(report), settings)
        return report

    clean = nightly_run()
    assert not clean.gaps and received == []

    with eventstore.connect(settings) as conn:  # events RAW never got
        late = [dict(e, event_id=str(uuid.uuid4())) for e in events[:40]]
        eventstore.insert_events(conn, late, settings)
    report = nightly_run()
    assert len(report.gaps) >= 2
    assert len(received) == 1
    text = json.dumps(received[0])
    assert "reconciliation" in text and f"ingestion gaps on {len(report.gaps)} day/type pairs" in text
