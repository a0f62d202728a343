"""The command line's contract: one-line errors (never a traceback), logs in a file, a quiet console,
one line per stage, and ``cardflow bootstrap`` naming the statement that failed."""

from __future__ import annotations

import argparse
import io
import logging
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from cardflow.cli import main, runtime
from cardflow.cli.progress import ROWS, ROWS_ADDED, STAGE, StageProgress
from cardflow.errors import BootstrapError, LoadError
from cardflow.settings import load_settings
from cardflow.warehouse.duckdb import DuckDBLoader


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARDFLOW_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _fail_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    import cardflow.cli.commands.report as report_command

    def boom(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr(report_command, "run", boom)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (LoadError("bronze/x.json.gz", "row_count_mismatch: 3 vs 4"), "cardflow report: bronze/x.json.gz: row_count"),
        (KeyError("sku"), "cardflow report: failed with KeyError: 'sku'; run again with --verbose"),
    ],
)
def test_a_failing_command_ends_with_one_line_and_the_log_holds_the_traceback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception, expected: str
) -> None:
    _fail_with(monkeypatch, exc)
    assert main(["report"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(expected), err
    assert "Traceback" not in err[0]
    (log,) = (data_dir / "logs").glob("cardflow-report-*.log")
    assert "Traceback (most recent call last)" in log.read_text()
    assert str(log) in err[0]


def test_verbose_shows_the_traceback(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _fail_with(monkeypatch, KeyError("sku"))
    assert main(["--verbose", "report"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_interrupt_is_one_line_and_exit_code_130(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _fail_with(monkeypatch, KeyboardInterrupt())
    assert main(["report"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0]


def _swallow_ctrl_c_then(monkeypatch: pytest.MonkeyPatch, after: BaseException | None) -> None:
    """A command whose library catches the KeyboardInterrupt of a real SIGINT (as Prefect's engine
    sometimes does), then returns normally or fails with a follow-on error."""
    import contextlib
    import os
    import signal

    import cardflow.cli.commands.report as report_command

    def swallowing(args: argparse.Namespace) -> int:
        with contextlib.suppress(KeyboardInterrupt):  # the library's swallow
            os.kill(os.getpid(), signal.SIGINT)
        if after is not None:
            raise after
        return 0

    monkeypatch.setattr(report_command, "run", swallowing)


@pytest.mark.parametrize("after", [None, ValueError("Task run is not set")])
def test_a_swallowed_ctrl_c_still_ends_the_command_as_interrupted(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, after: BaseException | None
) -> None:
    _swallow_ctrl_c_then(monkeypatch, after)
    assert main(["report"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0], err


def test_a_swallowed_ctrl_c_stops_the_run_at_its_next_stage() -> None:
    """The stage line after a lost Ctrl-C raises KeyboardInterrupt on the main thread, once."""
    progress = StageProgress(Console(file=io.StringIO()))
    logger = logging.getLogger("cardflow.test_stage")
    logger.setLevel(logging.INFO)
    with runtime.command_session(), progress:
        progress.stage("first")
        runtime._interrupt_requested.set()  # what the SIGINT handler records
        with pytest.raises(KeyboardInterrupt):
            logger.info("next", extra={STAGE: "second"})
        runtime.acknowledge_interrupt()
        logger.info("clean-up", extra={STAGE: "third"})  # the command handles it: no second raise
    assert "third" in progress.steps or progress._name == "third"


def test_quiet_console_keeps_third_party_info_in_the_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    log = tmp_path / "x.log"
    try:
        runtime.configure_logging(log, console="quiet", stream=stream)
        logging.getLogger("httpx").warning("HTTP Request: POST http://127.0.0.1/api/logs/ 500")
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/api/health 200")
        logging.getLogger("pgserver").info("Running commandline: initdb")
        logging.getLogger("cardflow.sources.eventstore.landing").info("backfill r1: chunk 0 committed")
        logging.getLogger("cardflow.warehouse.load").warning("load: 2 part objects are in no manifest")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("cardflow.quality.gate").error("gate failed", exc_info=True)
    finally:
        runtime.unconfigure_logging()
    console = stream.getvalue()
    assert console.splitlines() == ["warning: load: 2 part objects are in no manifest", "error: gate failed"]
    text = log.read_text()
    assert "httpx: HTTP Request: POST" in text and "chunk 0 committed" in text and "Traceback" in text
    assert "api/health" not in text, "httpx INFO is below the level kept for noisy libraries"


def test_stage_progress_prints_one_line_per_stage_with_rows() -> None:
    out = io.StringIO()
    logger = logging.getLogger("cardflow.test_stages")
    logger.setLevel(logging.INFO)
    with StageProgress(Console(file=out, width=120, highlight=False, color_system=None)) as progress:
        logger.info("stage backfill starting", extra={STAGE: "backfill"})
        logger.info("chunk", extra={ROWS: 500})
        logger.info("chunk", extra={ROWS: 1200})
        logger.info("stage load starting", extra={STAGE: "load"})
        logger.info("batch", extra={ROWS_ADDED: 700})
        logger.info("batch", extra={ROWS_ADDED: 500})
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 2, lines
    assert lines[0].startswith("✓ backfill (1,200 rows, ") and "rows/s" in lines[0]
    assert lines[1].startswith("✓ load (1,200 rows, ")
    assert progress.rows == {"backfill": 1200, "load": 1200}
    assert set(progress.steps) == {"backfill", "load"}


def test_a_failed_stage_is_marked() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), StageProgress(Console(file=out, width=120, color_system=None)) as progress:
        progress.stage("transform")
        raise RuntimeError("dbt failed")
    assert out.getvalue().strip().startswith("✗ failed: transform (")


def test_bootstrap_error_names_the_statement_and_the_reason(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    settings.duckdb_path.parent.mkdir(parents=True)
    duckdb.connect(str(settings.duckdb_path)).close()
    read_only = duckdb.connect(str(settings.duckdb_path), read_only=True)
    with pytest.raises(BootstrapError) as caught:
        DuckDBLoader(settings, connection=read_only).bootstrap()
    message = str(caught.value)
    assert f"`CREATE SCHEMA IF NOT EXISTS {settings.snowflake_raw_schema}`" in message
    assert "read-only" in message and "cardflow bootstrap --warehouse" in message
    read_only.close()


def test_load_and_transform_are_commands() -> None:
    from cardflow.cli import build_parser

    parser = build_parser()
    load = parser.parse_args(["load", "--manifest", "bronze/_manifests/a.json", "--manifest", "b.json"])
    assert load.manifests == ["bronze/_manifests/a.json", "b.json"] and load.prefect
    transform = parser.parse_args(["transform", "--full-refresh"])
    assert transform.full_refresh and not transform.reconcile and transform.prefect
