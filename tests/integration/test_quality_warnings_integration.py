"""Warnings reach a person once per run: the transform flow on generated data whose warn-severity dbt
test (``assert_no_oversold_skus``) fails posts exactly one quality warning to Slack (a local stand-in)
and records "passed with warnings" with the list, which the Gold report shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardflow.reporting.report import default_report_path, read_quality_status
from cardflow.settings import load_settings
from flows.transform import dbt_transform_and_test
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows

pytestmark = pytest.mark.integration


def test_warn_level_dbt_test_posts_one_warning_and_passes_with_warnings(
    tmp_path: Path, slack: tuple[str, list[dict[str, Any]]]
) -> None:
    slack_url, received = slack
    path = tmp_path / "warehouse.duckdb"
    events, _ = generate(events=1_500, seed=5, anomalies=False, days=10, end=datetime.now(UTC))
    insert_raw_duckdb(path, raw_rows(events))
    settings = load_settings(
        data_dir=tmp_path, duckdb_path_override=path, dbt_node_tasks=False, slack_webhook_url=slack_url
    )

    state = dbt_transform_and_test(full_refresh=True, settings=settings, return_state=True)
    assert state.is_completed()
    result = state.result()
    assert any("assert_no_oversold_skus" in w for w in result.warnings), result.warnings
    assert result.status == "passed with warnings"

    # one post for the whole run, naming the warn-severity test (not one post per test)
    kinds = [post["cardflow"]["kind"] for post in received]
    assert kinds == ["quality_warning"], received
    summary = received[0]["cardflow"]["summary"]
    assert "assert_no_oversold_skus" in summary
    assert f"{len(result.warnings)} quality warning" in summary
    assert received[0]["cardflow"]["flow"] == "dbt_transform_and_test"

    status = read_quality_status(settings)
    assert status.status == "passed with warnings"
    assert status.warnings == result.warnings
    # dbt's partial-parse state per variable set, in the data dir; no JSON artifacts nobody reads
    assert list((tmp_path / "dbt" / "target").glob("*/partial_parse.msgpack"))
    assert not list((tmp_path / "dbt" / "target").glob("*/run_results.json"))
    assert (tmp_path / "dbt" / "logs" / "dbt.log").is_file()
    html = default_report_path(settings).read_text(encoding="utf-8")
    assert "passed with warnings" in html and "assert_no_oversold_skus" in html
