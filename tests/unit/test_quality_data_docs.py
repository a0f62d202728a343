"""Data Docs of a gate: the merged results rendered as a site; a rendering problem never decides the gate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cardflow.backends.chooser import resolve_backends
from cardflow.quality.data_docs import attach_data_docs, write_data_docs
from cardflow.quality.gate import validate_layer
from cardflow.quality.results import GateResult
from cardflow.quality.suites import SuiteSpec, load_suites
from cardflow.settings import Settings, load_settings
from tests.quality_tables import create_audit_orders, run_sql


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data")
    create_audit_orders(s, rows=500)
    return s


def _gate(settings: Settings) -> tuple[GateResult, list[SuiteSpec]]:
    specs = [load_suites()["stg_order_created"]]
    with resolve_backends(settings).open_session() as wh:
        result = validate_layer(
            wh, specs, "SILVER_AUDIT", "silver", {"freshness_floor": datetime.now(UTC) - timedelta(hours=24)}
        )
    return result, specs


def test_data_docs_written(settings: Settings, tmp_path: Path) -> None:
    # a rule the GX suite owns (accepted status values are dbt's now), on a row of the latest run
    # (the gate validates the increment): quantity >= 0
    run_sql(settings, "UPDATE SILVER_AUDIT.stg_order_created SET quantity = -987654 WHERE event_id = 'evt-499'")
    result, specs = _gate(settings)
    index = write_data_docs(result, specs, tmp_path / "gx")
    assert index is not None and Path(index).is_file()
    pages = "".join(p.read_text(errors="ignore") for p in (tmp_path / "gx").rglob("*.html"))
    assert "stg_order_created" in pages and "-987654" in pages
    import great_expectations as gx

    project = gx.get_context(mode="file", project_root_dir=str(tmp_path / "gx"))
    checkpoint = project.checkpoints.get("cardflow_silver_gate")
    assert [a.type for a in checkpoint.actions] == ["update_data_docs"]
    assert [v.name for v in checkpoint.validation_definitions] == ["silver.stg_order_created"]


def test_unwritable_docs_leave_the_verdict_and_log(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result, specs = _gate(settings)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the GX project should go")
    with caplog.at_level(logging.WARNING, logger="cardflow.quality.data_docs"):
        attach_data_docs(result, specs, blocked)
    assert result.docs_index is None and result.success
    assert "Data Docs for the silver gate not written" in caplog.text


def test_the_index_lists_only_the_newest_results_while_all_stay_stored(settings: Settings, tmp_path: Path) -> None:
    """GX reads every result its index lists: the list is bounded so the docs cost does not grow
    with every gated run, and every result stays in the store (the audit trail)."""
    result, specs = _gate(settings)
    for _ in range(3):
        index = write_data_docs(result, specs, tmp_path / "gx", index_limit=2)
    stored = list((tmp_path / "gx" / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(stored) == 3
    page = Path(index).read_text()
    listed = sum(page.count(p.parent.name) > 0 for p in stored)  # run times that appear in the index
    assert listed == 2
    config = (tmp_path / "gx" / "gx" / "great_expectations.yml").read_text()
    assert "validation_results_limit: 2" in config


def test_the_checkpoint_is_registered_again_only_when_its_suites_change(settings: Settings, tmp_path: Path) -> None:
    """Registering rewrites every suite and definition through GX's stores: done once per change of
    the suites, not once per gate run, and redone when a stored definition went missing."""
    import dataclasses

    result, specs = _gate(settings)
    root = tmp_path / "gx" / "gx"
    write_data_docs(result, specs, tmp_path / "gx")
    checkpoint = root / "checkpoints" / "cardflow_silver_gate.json"
    suite_file = root / "expectations" / "stg_order_created.json"
    first = (checkpoint.stat().st_mtime_ns, suite_file.stat().st_mtime_ns)

    write_data_docs(result, specs, tmp_path / "gx")
    assert (checkpoint.stat().st_mtime_ns, suite_file.stat().st_mtime_ns) == first
    assert len(list((root / "uncommitted" / "validations").rglob("*.json"))) == 2  # both runs' results stored

    checkpoint.unlink()
    write_data_docs(result, specs, tmp_path / "gx")
    assert checkpoint.is_file()

    changed = dataclasses.replace(specs[0], document={**specs[0].document, "notes": "owner: data-platform"})
    write_data_docs(result, [changed], tmp_path / "gx")
    assert "owner: data-platform" in suite_file.read_text()
