"""Run names say what a run processed."""

from __future__ import annotations

from prefect import flow

from tasks import run_names


@flow(flow_run_name=run_names.backfill_run_name)
def _backfill(start: str | None = None, end: str | None = None, full_refresh: bool = False) -> str:
    from prefect.runtime import flow_run

    return flow_run.name


@flow(flow_run_name=run_names.realtime_run_name)
def _realtime(manifest_key: str, batch_id: str | None = None) -> str:
    from prefect.runtime import flow_run

    return flow_run.name


@flow(flow_run_name=run_names.load_run_name)
def _load(manifest_keys: list[str] | None = None) -> str:
    from prefect.runtime import flow_run

    return flow_run.name


def test_run_names_describe_the_work() -> None:
    assert _backfill("2026-11-01T00:00:00Z", "2026-11-02T06:30:00+00:00") == "backfill-20261101T0000-20261102T0630"
    assert _backfill() == "backfill-watermark-now"
    assert _backfill(full_refresh=True).endswith("-full-refresh")
    manifest = "bronze/_manifests/origin=realtime/20261120T100000000000Z-fe66ade51d0f4f9a9e12.json"
    assert _realtime(manifest) == "mq-batch-fe66ade51d0f4f9a9e12"
    assert _realtime(manifest, batch_id="fe66ade51d0f4f9a9e12") == "mq-batch-fe66ade51d0f4f9a9e12"
    assert _load(["a", "b", "c"]) == "load-3-manifests"
    assert _load().startswith("load-new-files-")


def test_outside_a_run_names_fall_back() -> None:
    assert run_names.backfill_run_name() == "backfill-watermark-now"
    assert run_names.pipeline_run_name().endswith("-incremental")
