"""The build stamp: a transform with nothing new since the published build builds nothing, and
anything a build reads (RAW rows and loads, held events, the dbt project, the suites, the project
variables) makes it build again."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import Settings, load_settings
from cardflow.transform.build_stamp import (
    BuildStamp,
    build_fingerprint,
    ensure_published_builds,
    pending_build,
    published_stamp,
    record_published,
)
from cardflow.transform.dbt import DBT_PROJECT_DIR
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

NEWEST = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data")
    s.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return s


def _session(settings: Settings):
    return resolve_backends(settings).open_session()


def _publish(settings: Settings, stamp: BuildStamp) -> None:
    with _session(settings) as wh:
        ensure_published_builds(wh, settings)
        record_published(wh, settings, stamp)


def test_the_same_stamp_means_nothing_new_and_each_input_is_a_reason() -> None:
    stamp = BuildStamp(100, NEWEST, 0, "f")
    assert stamp.differences(BuildStamp(100, NEWEST.replace(tzinfo=None), 0, "f")) == []  # naive = UTC
    assert stamp.differences(BuildStamp(100, NEWEST.astimezone(UTC), 0, "f")) == []
    assert stamp.differences(None) == ["no published build is recorded"]
    assert len(stamp.differences(BuildStamp(99, NEWEST, 0, "f"))) == 1
    assert len(stamp.differences(BuildStamp(100, NEWEST - timedelta(microseconds=1), 0, "f"))) == 1
    assert len(stamp.differences(BuildStamp(100, NEWEST, 1, "f"))) == 1
    assert len(stamp.differences(BuildStamp(100, NEWEST, 0, "g"))) == 1
    assert BuildStamp(0, None, 0, "f").differences(BuildStamp(0, None, 0, "f")) == []


def test_the_fingerprint_follows_the_project_the_suites_and_the_variables(tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "fct_orders.json").write_text('{"expectations": []}')
    settings = load_settings(data_dir=tmp_path / "data", dbt_project_dir=project)
    base = build_fingerprint(settings, extra_dirs=(suites,))
    assert build_fingerprint(settings, extra_dirs=(suites,)) == base

    # how fast dbt runs and what dbt leaves behind do not change the output
    assert build_fingerprint(settings.model_copy(update={"dbt_threads": 7}), extra_dirs=(suites,)) == base
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    assert build_fingerprint(settings, extra_dirs=(suites,)) == base

    changed_variable = settings.model_copy(update={"dbt_lookback_minutes": settings.dbt_lookback_minutes + 1})
    assert build_fingerprint(changed_variable, extra_dirs=(suites,)) != base
    (suites / "fct_orders.json").write_text('{"expectations": [1]}')
    after_suite = build_fingerprint(settings, extra_dirs=(suites,))
    assert after_suite != base
    model = project / "models" / "marts" / "dim_card.sql"
    model.write_text(model.read_text() + "\n-- a comment is a change too\n")
    assert build_fingerprint(settings, extra_dirs=(suites,)) not in (base, after_suite)


def test_a_published_build_is_pending_again_after_any_new_input(settings: Settings) -> None:
    events, _ = generate(events=40, seed=3, anomalies=False, days=1, end=NEWEST)
    insert_raw_duckdb(settings.duckdb_path, raw_rows(events[:30], file_prefix="a"))
    with _session(settings) as wh:
        first = pending_build(wh, settings, "f")
    assert first.stamp.raw_rows == 30 and first.reasons == ["no published build is recorded"]
    _publish(settings, first.stamp)
    with _session(settings) as wh:
        assert published_stamp(wh, settings) == first.stamp
        assert pending_build(wh, settings, "f").nothing_new
        assert pending_build(wh, settings, "f", full_refresh=True).reasons == ["full refresh asked for"]
        assert not pending_build(wh, settings, "other project").nothing_new

    insert_raw_duckdb(settings.duckdb_path, raw_rows(events[30:31], file_prefix="b"))  # one row more
    with _session(settings) as wh:
        second = pending_build(wh, settings, "f")
    assert second.stamp.raw_rows == 31 and not second.nothing_new
    _publish(settings, second.stamp)

    with duckdb.connect(str(settings.duckdb_path)) as con:  # a gate held one event back
        con.execute(
            "CREATE TABLE RAW.EVENTS_HELD (event_id VARCHAR, reason VARCHAR, gate VARCHAR, held_at TIMESTAMPTZ)"
        )
        con.execute("INSERT INTO RAW.EVENTS_HELD VALUES (?, 'r', 'silver', now())", [events[0]["event_id"]])
    with _session(settings) as wh:
        assert pending_build(wh, settings, "f").nothing_new  # without the holds table named: not looked at
        held = pending_build(wh, settings, "f", held_table="EVENTS_HELD")
    assert held.stamp.held_events == 1 and len(held.reasons) == 1
