"""Quality warnings of a run: gathered from every source, alerted once, verdict "passed with warnings"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import tasks.alerts as alerts
from cardflow.quality.raw_checks import CheckOutcome, RawChecksReport
from cardflow.quality.results import ExpectationOutcome, GateResult, ModelResult
from cardflow.quality.warnings import (
    ALERT_LINES,
    QualityWarning,
    alert_summary,
    dbt_warnings,
    gate_warnings,
    raw_check_warnings,
    verdict,
)
from cardflow.settings import load_settings

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def _outcome(name: str, *, success: bool, unexpected: int, mostly: float | None) -> ExpectationOutcome:
    kwargs: dict[str, Any] = {"column": "quantity"} | ({"mostly": mostly} if mostly is not None else {})
    return ExpectationOutcome(
        "fct_orders", name, {"type": name, "kwargs": kwargs}, success=success, element_count=1_000,
        unexpected_count=unexpected, counted=True,
    )  # fmt: skip


def test_raw_checks_at_warn_are_warnings_ok_and_skipped_are_not() -> None:
    report = RawChecksReport(
        [
            CheckOutcome("freshness", "warn", "newest event is 7.5 h old (RAW_EVENTS_FRESHNESS_WARN_HOURS=6)"),
            CheckOutcome("volume", "skipped", "less than 2 days of history"),
        ],
        NOW,
    )
    assert [w.line() for w in raw_check_warnings(report)] == [
        "raw_events freshness: newest event is 7.5 h old (RAW_EVENTS_FRESHNESS_WARN_HOURS=6)"
    ]


def test_dbt_warn_nodes_become_warnings_named_by_layer() -> None:
    found = dbt_warnings("gold", ["test assert_no_oversold_skus: warn (337 failing rows)"])
    assert found == [QualityWarning("dbt", "gold/assert_no_oversold_skus", "warn (337 failing rows)")]


def test_expectations_passing_only_by_mostly_are_warnings() -> None:
    model = ModelResult(
        "fct_orders",
        "GOLD_AUDIT.fct_orders",
        1_000,
        [
            _outcome("expect_column_values_to_be_between", success=True, unexpected=12, mostly=0.95),  # warning
            _outcome("expect_column_values_to_not_be_null", success=True, unexpected=0, mostly=0.95),  # clean
            _outcome("expect_column_values_to_be_unique", success=False, unexpected=70, mostly=0.95),  # failure
        ],
    )
    found = gate_warnings(GateResult("gold", "GOLD_AUDIT", "pandas", [model], 0.1))
    assert [w.check for w in found] == ["gold/fct_orders/expect_column_values_to_be_between"]
    assert found[0].detail == "12 of 1,000 rows unexpected (allowed by mostly=0.95)"


def test_verdict_and_one_summary_for_many_warnings() -> None:
    assert verdict([]) == "passed"
    warnings = [QualityWarning("dbt", f"gold/test_{i}", "warn") for i in range(ALERT_LINES + 3)]
    assert verdict(warnings) == "passed with warnings"
    summary = alert_summary(warnings)
    assert summary.startswith(f"{ALERT_LINES + 3} quality warnings")
    assert "dbt gold/test_0: warn" in summary and f"gold/test_{ALERT_LINES}" not in summary
    assert "... and 3 more" in summary


def test_notify_quality_warnings_posts_once_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(alerts, "notify", lambda kind, summary, settings: calls.append((kind, summary)))
    settings = load_settings(data_dir=tmp_path)
    assert alerts.notify_quality_warnings([], settings) is None
    assert calls == []
    warnings = [QualityWarning("raw_events", "volume", "+60%"), QualityWarning("dbt", "gold/x", "warn")]
    alerts.notify_quality_warnings(warnings, settings)
    assert [kind for kind, _ in calls] == ["quality_warning"]  # one alert for both
    assert "raw_events volume: +60%" in calls[0][1] and "dbt gold/x: warn" in calls[0][1]
