"""The Snowflake load through the real connector and prefect-snowflake, against fakesnow.

The server is fakesnow 0.12.1 started by ``tests.fakesnow_ext``, which adds the COPY features
fakesnow lacks (JSON transforms, METADATA$ columns, atomic ABORT_STATEMENT; see that module). The
stage points at a ``file://`` copy of the Bronze files because fakesnow cannot read ``s3://`` here.

``sql/snowflake_ddl.sql`` itself is executed, except two statements fakesnow cannot parse (its
parser has no CREATE WAREHOUSE or CREATE STORAGE INTEGRATION; it accepts and ignores the stage's
STORAGE_INTEGRATION clause). They are passed as an explicit skip list, checked below, so the
production path (which skips nothing) stays the one under test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardflow.backends.blocks import save_blocks
from cardflow.backends.chooser import clear_block_cache, resolve_backends
from cardflow.bronze.store import LocalBronzeStore
from cardflow.errors import LoadError
from cardflow.settings import Settings, load_settings
from cardflow.warehouse.base import BronzeFile, statement_kind
from cardflow.warehouse.snowflake import SnowflakeLoader
from flows.load import s3_to_snowflake_load_raw
from tests.bronze_factory import BronzeBatch, generate_bronze

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

FAKESNOW_CANNOT_RUN = {
    "CREATE WAREHOUSE": "fakesnow 0.12.1 has no warehouses: its parser rejects CREATE WAREHOUSE",
    "CREATE STORAGE INTEGRATION": (
        "fakesnow 0.12.1 has no storage integrations: its parser rejects the statement"
    ),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fakesnow_copy_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """fakesnow's server with the COPY extensions of ``tests.fakesnow_ext``."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakesnow_ext", "-p", str(port)],
        cwd=tmp_path_factory.mktemp("fakesnow_ext"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("fakesnow_ext server exited at start") from None
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("fakesnow_ext server did not start within 120 s")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "data" / "lake"


@pytest.fixture
def bronze(lake: Path) -> BronzeBatch:
    return generate_bronze(LocalBronzeStore(lake), "bronze", events=600, days=1, seed=5)


@pytest.fixture
def sf_settings(tmp_path: Path, fakesnow_copy_port: int, lake: Path, bronze: BronzeBatch) -> Settings:
    stage_copy = tmp_path / "stage"
    shutil.copytree(lake / "bronze", stage_copy / "bronze")  # what S3 would hold, as file://
    return load_settings(
        data_dir=tmp_path / "data",
        warehouse_choice="snowflake",
        snowflake_account="fakesnow",
        snowflake_user="cardflow",
        snowflake_password="not-a-secret",
        snowflake_host="localhost",
        snowflake_port=fakesnow_copy_port,
        snowflake_protocol="http",
        snowflake_database=f"CARDFLOW_{uuid.uuid4().hex[:8].upper()}",
        snowflake_stage_url_override=(stage_copy / "bronze").as_uri() + "/",
        snowflake_storage_aws_role_arn="arn:aws:iam::123456789012:role/cardflow-snowflake",
    )


def _bootstrap(settings: Settings) -> None:
    with resolve_backends(settings).open_loader() as warehouse:
        result = warehouse.bootstrap(skip=FAKESNOW_CANNOT_RUN)
    assert sorted(statement_kind(s) for s, _ in result.skipped) == sorted(FAKESNOW_CANNOT_RUN)
    assert len(result.executed) == 7  # database, 3 schemas, file format, stage, table


def _query(settings: Settings, sql: str) -> list[tuple]:
    with resolve_backends(settings).open_loader() as warehouse:
        assert isinstance(warehouse, SnowflakeLoader)
        return warehouse._fetch_all(sql)


def test_flow_loads_through_copy_into_and_rerun_loads_nothing(
    sf_settings: Settings, bronze: BronzeBatch
) -> None:
    _bootstrap(sf_settings)
    _bootstrap(sf_settings)  # idempotent: a second deploy changes nothing and fails on nothing

    first = s3_to_snowflake_load_raw(settings=sf_settings)
    assert first["warehouse"] == "snowflake"
    assert first["files_loaded"] == len(bronze.objects) and first["files_failed"] == 0
    assert first["rows_loaded"] == bronze.rows == first["raw_rows"]

    db = sf_settings.snowflake_database
    rows = _query(sf_settings, f"SELECT EVENT_ID, FILE_NAME, FILE_ROW_NUMBER, PAYLOAD FROM {db}.RAW.EVENTS")
    assert sorted(r[0] for r in rows) == sorted(bronze.event_ids)
    expected_names = {o.key.removeprefix("bronze/") for o in bronze.objects}
    assert {r[1] for r in rows} == expected_names  # METADATA$FILENAME: the path inside the stage
    per_file = {}
    for _, name, number, _ in rows:
        per_file.setdefault(name, []).append(int(number))
    assert all(sorted(n) == list(range(1, len(n) + 1)) for n in per_file.values())

    second = s3_to_snowflake_load_raw(settings=sf_settings)  # the load cursor: nothing new to read
    assert second["rows_loaded"] == 0 and second["files"] == 0
    cursor = _query(sf_settings, f"SELECT MANIFEST_KEY, STATUS FROM {db}.RAW.LOADED_MANIFESTS")
    assert cursor == [(bronze.manifest_key, "loaded")]
    # the manifest re-submitted by name: Snowflake's load history skips every file
    again = s3_to_snowflake_load_raw(manifest_keys=[bronze.manifest_key], settings=sf_settings)
    assert again["rows_loaded"] == 0 and again["files_loaded"] == 0
    assert again["files_already_loaded"] == len(bronze.objects)
    assert again["raw_rows"] == bronze.rows


def test_corrupt_file_is_isolated_and_reported(sf_settings: Settings, bronze: BronzeBatch) -> None:
    _bootstrap(sf_settings)
    bad = bronze.objects[2]
    stage_file = Path(str(sf_settings.snowflake_stage_url_override).removeprefix("file://")) / bad.key.removeprefix(
        "bronze/"
    )
    stage_file.write_bytes(stage_file.read_bytes()[:100])

    with pytest.raises(LoadError, match="1 Bronze files failed") as caught:
        s3_to_snowflake_load_raw(settings=sf_settings)
    assert bad.key in str(caught.value)
    db = sf_settings.snowflake_database
    assert _query(sf_settings, f"SELECT COUNT(*) FROM {db}.RAW.EVENTS")[0][0] == bronze.rows - bad.rows
    assert _query(
        sf_settings, f"SELECT COUNT(*) FROM {db}.RAW.EVENTS WHERE FILE_NAME LIKE '%{bad.key[-30:]}'"
    ) == [(0,)]


def test_load_with_only_the_block_name(sf_settings: Settings, bronze: BronzeBatch, tmp_path: Path) -> None:
    """CARDFLOW_SNOWFLAKE_BLOCK alone selects Snowflake and the loader connects with the block's
    parameters (no SNOWFLAKE_* credentials in the settings)."""
    _bootstrap(sf_settings)
    name = f"snow-{uuid.uuid4().hex[:8]}"
    save_blocks(sf_settings.model_copy(update={"snowflake_connector_block": name}))
    clear_block_cache()
    worker = load_settings(
        data_dir=sf_settings.data_dir,
        snowflake_connector_block=name,
        snowflake_stage_url_override=sf_settings.snowflake_stage_url_override,
    )
    assert worker.snowflake_account is None and worker.snowflake_password is None
    result = s3_to_snowflake_load_raw(settings=worker)
    assert result["warehouse"] == "snowflake"
    assert result["files_loaded"] == len(bronze.objects) and result["raw_rows"] == bronze.rows
    assert not worker.duckdb_path.exists()


def test_key_with_quotes_and_backslashes_is_loaded_literally(sf_settings: Settings, bronze: BronzeBatch) -> None:
    """A crafted Bronze key (single quotes, backslashes, one that would end the literal early on
    Snowflake) is loaded as exactly that file, and only that file, and recorded under its own name."""
    _bootstrap(sf_settings)
    source = bronze.objects[0]
    stage_root = Path(str(sf_settings.snowflake_stage_url_override).removeprefix("file://"))
    crafted = source.key.rsplit("/", 1)[0] + "/part-it's \\' , 'x\\\\y.json.gz"
    (stage_root / crafted.removeprefix("bronze/")).write_bytes(
        (stage_root / source.key.removeprefix("bronze/")).read_bytes()
    )
    with resolve_backends(sf_settings).open_loader() as warehouse:
        assert isinstance(warehouse, SnowflakeLoader)
        results = warehouse.load([BronzeFile(crafted, rows=source.rows)], LocalBronzeStore(stage_root))
    assert [(r.status, r.rows_loaded) for r in results] == [("loaded", source.rows)]
    db = sf_settings.snowflake_database
    rows = _query(sf_settings, f"SELECT DISTINCT FILE_NAME FROM {db}.RAW.EVENTS")
    assert rows == [(crafted.removeprefix("bronze/"),)]
    assert _query(sf_settings, f"SELECT COUNT(*) FROM {db}.RAW.EVENTS")[0][0] == source.rows
