"""The dbt project on DuckDB: Gold equals an independent Python computation, incremental equals a
full refresh, and every generic test fails on data crafted to break it.

One module-scoped warehouse is built once (full build, then an incremental run after new, late and
re-delivered events) and the tests read it; dbt runs in-process through plain dbtRunner here (the
flow tests cover the PrefectDbtRunner path).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from cardflow.dev.generator import DEFAULT_END
from cardflow.settings import Settings, load_settings
from cardflow.transform.dbt import DBT_PROJECT_DIR, invoke_dbt
from cardflow.warehouse.connection import DuckDBTarget
from tests.gold_oracle import GOLD_CONTRACT, Expected, expected_from, utc
from tests.raw_factory import generate, insert_raw_duckdb, raw_rows, redeliver

pytestmark = pytest.mark.integration

SILVER_AND_GOLD = [
    ("SILVER", "stg_order_created", "event_id"),
    ("SILVER", "stg_manufacturing_batch", "event_id"),
    ("SILVER", "stg_card_catalog_entry_inserted", "event_id"),
    ("SILVER", "int_events_rejected", "event_id"),
    ("GOLD", "fct_orders", "order_id"),
    ("GOLD", "fct_batch_performance", "batch_id"),
    ("GOLD", "dim_card", "sku"),
    ("GOLD", "dim_card_history", "card_version_id"),
    ("GOLD", "fct_sku_supply_demand", "sku"),
]
# Silver keeps the lineage of the copy it kept; a full refresh and an incremental run may stamp
# different load times only if RAW differs, which it does not, so every column is compared.


def _settings(path: Path, target_dir: Path) -> Settings:
    return load_settings(data_dir=target_dir, duckdb_path_override=path, dbt_lookback_minutes=60)


def _build(settings: Settings, *extra: str) -> dict[str, Any]:
    summary = invoke_dbt(
        ["build", *extra, "--target-path", str(settings.resolved_data_dir / "target")],
        settings,
        DuckDBTarget(settings.duckdb_path),
    )
    assert not summary.failed, [n.describe() for n in summary.failed]
    return {n.name: n for n in summary.nodes}


def _table(path: Path, schema: str, table: str, key: str) -> list[tuple[Any, ...]]:
    """All rows by key, without Silver's processed_at (a run stamp, different in every build)."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [r[0] for r in con.execute(f"DESCRIBE {schema}.{table}").fetchall()]
        exclude = " EXCLUDE (processed_at)" if "processed_at" in columns else ""
        return con.execute(f"SELECT *{exclude} FROM {schema}.{table} ORDER BY {key}").fetchall()


def _columns(path: Path, schema: str, table: str) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute(f"DESCRIBE {schema}.{table}").fetchall()]


def _late_and_changed_events(base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events that arrive after the first build but belong to the past.

    - a status change of an existing order, recorded 1 minute after its latest event (must win)
    - a stale status of another order, recorded 1 hour BEFORE its latest event (must lose)
    - a catalog correction recorded between two existing catalog events of a SKU (a middle version)
    """
    orders = [e for e in base if e["event_type"] == "OrderCreated" and isinstance(e["payload"], dict)]
    latest: dict[str, dict[str, Any]] = {}
    for e in orders:
        oid = e["payload"]["order_id"]
        if oid not in latest or e["inserted_at"] > latest[oid]["inserted_at"]:
            latest[oid] = e
    picked = sorted(latest.values(), key=lambda e: e["event_id"])
    winner, loser = picked[0], picked[1]
    late = [
        {
            **winner,
            "event_id": "00000000-0000-4000-8000-000000000001",
            "payload": {**winner["payload"], "status": "CANCELLED"},
            "inserted_at": winner["inserted_at"] + timedelta(minutes=1),
        },
        {
            **loser,
            "event_id": "00000000-0000-4000-8000-000000000002",
            "payload": {**loser["payload"], "status": "CANCELLED", "quantity": 99},
            "inserted_at": loser["inserted_at"] - timedelta(hours=1),
        },
    ]
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(
        (e for e in base if e["event_type"] == "CardCatalogEntryInserted"), key=lambda e: e["inserted_at"]
    ):
        by_sku.setdefault(e["payload"]["sku"], []).append(e)
    first = next(events[0] for events in by_sku.values() if len(events) > 1)  # a SKU with a later correction
    late.append(
        {
            **first,
            "event_id": "00000000-0000-4000-8000-000000000003",
            "payload": {**first["payload"], "team_name": "Late Correction FC"},
            "inserted_at": first["inserted_at"] + timedelta(microseconds=1),
        }
    )
    return late


class Warehouse:
    """The module's warehouse: events, paths and run results of the full and incremental builds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "warehouse.duckdb"
        self.settings = _settings(self.path, root)
        self.base: list[dict[str, Any]] = []
        self.all_events: list[dict[str, Any]] = []
        self.incremental_nodes: dict[str, Any] = {}
        self.expected_base: Expected | None = None
        self.base_gold: dict[str, list[tuple[Any, ...]]] = {}
        self.new_event_count = 0


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("dbt-duckdb"))
    # base load: anomalies of every kind (rate raised so a small run holds them all), re-deliveries
    wh.base, report = generate(events=3_000, seed=11, anomaly_rate=0.01)
    assert all(report.anomalies[k] for k in ("malformed_payload", "negative_quantity", "duplicate_delivery"))
    # loaded as it happened (10 minutes after each event); re-deliveries 3 hours later
    rows = raw_rows(wh.base, file_prefix="base", lag=timedelta(minutes=10))
    insert_raw_duckdb(wh.path, rows + redeliver(rows, 40, delay=timedelta(hours=3)))
    _build(wh.settings)
    wh.expected_base = expected_from(wh.base)
    wh.base_gold = {t: _table(wh.path, s, t, k) for s, t, k in SILVER_AND_GOLD}

    # second load: a new day of events, late/changed events and re-deliveries of old rows
    new, _ = generate(events=300, seed=12, days=1, end=DEFAULT_END + timedelta(days=1), anomaly_rate=0.01)
    late = _late_and_changed_events(wh.base)
    batch = raw_rows(new + late, file_prefix="batch-2")
    wh.new_event_count = len(new) + len(late)
    again = redeliver(rows, 97, file_prefix="redelivery-2", at=datetime.now(UTC))  # old events, loaded now
    insert_raw_duckdb(wh.path, batch + again)
    wh.all_events = wh.base + new + late
    wh.incremental_nodes = _build(wh.settings)
    return wh


def test_column_contract_of_gold(warehouse: Warehouse) -> None:
    """The three contract marts have exactly the analysts' columns, in order (GUIDE §1)."""
    for table, columns in GOLD_CONTRACT.items():
        assert _columns(warehouse.path, "GOLD", table) == columns


def test_gold_equals_independent_computation_after_full_build(warehouse: Warehouse) -> None:
    """Every Gold table after the first build equals the pure-Python computation on the same events."""
    exp = warehouse.expected_base
    assert exp is not None
    gold = warehouse.base_gold
    _assert_gold_equals(gold, exp)


def test_gold_equals_independent_computation_after_incremental_build(warehouse: Warehouse) -> None:
    exp = expected_from(warehouse.all_events)
    gold = {t: _table(warehouse.path, s, t, k) for s, t, k in SILVER_AND_GOLD}
    _assert_gold_equals(gold, exp)


def _assert_gold_equals(gold: dict[str, list[tuple[Any, ...]]], exp: Expected) -> None:
    # Silver: one row per usable event (copies collapsed), the rest rejected with a reason
    assert len(gold["stg_order_created"]) == exp.silver_counts["OrderCreated"]
    assert len(gold["stg_manufacturing_batch"]) == exp.silver_counts["ManufacturingBatch"]
    assert len(gold["stg_card_catalog_entry_inserted"]) == exp.silver_counts["CardCatalogEntryInserted"]
    rejected = {r[0]: r for r in gold["int_events_rejected"]}
    assert set(rejected) == set(exp.rejected)
    assert {r[3] for r in rejected.values()} <= {"payload_not_object", "missing_field:sku"}

    orders = {r[0]: (r[0], utc(r[1]), *r[2:8], utc(r[8])) for r in gold["fct_orders"]}
    assert orders == exp.fct_orders  # one row per order: re-emitted and duplicate deliveries collapsed
    assert all(isinstance(r[5], Decimal) and isinstance(r[6], Decimal) for r in gold["fct_orders"])

    revenue: dict[str, Decimal] = {}
    for r in gold["fct_orders"]:
        revenue[r[3]] = revenue.get(r[3], Decimal(0)) + r[6]
    assert revenue == exp.revenue_per_sku()

    batches = {r[0]: (*r[:7], utc(r[7])) for r in gold["fct_batch_performance"]}
    assert batches == exp.fct_batch_performance  # exact defect estimates

    cards = {r[0]: (*r[:7], utc(r[7])) for r in gold["dim_card"]}
    assert cards == exp.dim_card

    history = [
        (r[1], r[2], *r[3:9], utc(r[9]), utc(r[10]) if r[10] else None, r[11])
        for r in gold["dim_card_history"]
    ]
    assert sorted(history, key=lambda h: (h[0], h[1])) == sorted(
        exp.dim_card_history, key=lambda h: (h[0], h[1])
    )

    supply = {r[0]: (r[0], r[1], r[3], r[4], r[5], r[6], r[7], r[9]) for r in gold["fct_sku_supply_demand"]}
    assert supply == exp.supply_demand


def test_dbt_unit_tests_run_and_pass_in_a_plain_build(warehouse: Warehouse) -> None:
    """The dbt unit tests (fixed inputs, so CI's business: the flow's layer builds leave them out
    unless CARDFLOW_DBT_SKIP_UNIT_TESTS=false) run in a plain ``dbt build`` and pass here."""
    unit = {name: n.status for name, n in warehouse.incremental_nodes.items() if n.resource_type == "unit_test"}
    assert {"decodes_price_exactly", "dedupes_copies_of_an_event", "latest_event_per_order_wins"} <= set(unit)
    assert set(unit.values()) == {"pass"}


def test_incremental_equals_full_refresh(warehouse: Warehouse, tmp_path: Path) -> None:
    """After new, late and re-delivered events, the incremental result equals a rebuild from RAW."""
    incremental = {t: _table(warehouse.path, s, t, k) for s, t, k in SILVER_AND_GOLD}
    copy = tmp_path / "rebuilt.duckdb"  # (the catalog name must not be an SQL keyword such as FULL)
    shutil.copy(warehouse.path, copy)
    _build(_settings(copy, tmp_path), "--full-refresh")
    full = {t: _table(copy, s, t, k) for s, t, k in SILVER_AND_GOLD}
    for _schema, table, _key in SILVER_AND_GOLD:
        assert incremental[table] == full[table], table


def test_late_events_win_or_lose_by_inserted_at(warehouse: Warehouse) -> None:
    gold = {r[0]: r for r in _table(warehouse.path, "GOLD", "fct_orders", "order_id")}
    base_gold = {r[0]: r for r in warehouse.base_gold["fct_orders"]}
    changed = [oid for oid in gold if oid in base_gold and gold[oid] != base_gold[oid]]
    assert len(changed) == 1 and gold[changed[0]][7] == "CANCELLED"  # the newer status change won
    assert not any(r[4] == 99 for r in gold.values())  # the older stale event lost
    history = _table(warehouse.path, "GOLD", "dim_card_history", "card_version_id")
    assert any(r[6] == "Late Correction FC" and r[10] is not None for r in history)  # a closed middle version


def test_incremental_run_touches_only_the_new_batch(warehouse: Warehouse) -> None:
    """The incremental run rewrote only the Silver rows of the new batch (processed_at stamp), not
    the history; the RAW rows loaded a day earlier lie outside the lookback window."""
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        stamps = con.execute(
            "SELECT processed_at, count(*) FROM SILVER.stg_order_created GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert len(stamps) == 2  # the first build's rows and the incremental run's rows
    touched = stamps[-1][1]
    # the new day's orders, the late events, re-delivered copies, and the base rows loaded within the
    # lookback window (60 minutes) below the watermark; never the whole history
    new_orders = [e for e in warehouse.all_events[len(warehouse.base) :] if e["event_type"] == "OrderCreated"]
    assert len(new_orders) <= touched
    assert touched < stamps[0][1] / 5


def test_silver_decodes_every_event_exactly_once(warehouse: Warehouse) -> None:
    """Each distinct RAW event is in exactly one Silver model or in int_events_rejected."""
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        raw = con.execute("SELECT count(DISTINCT event_id), count(*) FROM RAW.events").fetchone()
        tables = ("stg_order_created", "stg_manufacturing_batch", "stg_card_catalog_entry_inserted",
                  "int_events_rejected")
        silver = con.execute(
            "SELECT " + " + ".join(f"(SELECT count(*) FROM SILVER.{t})" for t in tables)
        ).fetchone()
    assert raw is not None and silver is not None
    assert raw[1] > raw[0]  # RAW holds re-delivered copies
    assert silver[0] == raw[0]


# --- generic tests on crafted data ---------------------------------------------------------------
def _crafted_events() -> list[dict[str, Any]]:
    """Nine days of a small, clean event stream, then breaking events, then a volume spike."""
    end = datetime(2026, 11, 1, tzinfo=UTC)
    card = {
        "sku": "S-1",
        "card_name": "Card",
        "sport": "Baseball",
        "player_name": "P",
        "team_name": "T",
        "parallel": "Base",
        "print_run": 100,
    }
    events: list[dict[str, Any]] = [
        {
            "event_id": "10000000-0000-4000-8000-000000000000",
            "source": "cards",
            "event_type": "CardCatalogEntryInserted",
            "payload": card,
            "inserted_at": end - timedelta(days=9),
        }
    ]

    def order(i: int, at: datetime, **changes: Any) -> dict[str, Any]:
        payload = {
            "order_id": f"O-{i}",
            "order_ts": at.isoformat(),
            "customer_id": "C",
            "sku": "S-1",
            "quantity": 1,
            "price": {"units": 100, "scale": 2},
            "status": "PAID",
        } | changes
        return {
            "event_id": f"20000000-0000-4000-8000-{i:012d}",
            "source": "orders",
            "event_type": "OrderCreated",
            "payload": payload,
            "inserted_at": at,
        }

    i = 0
    for day in range(8, 0, -1):  # 10 orders a day for 8 days
        for n in range(10):
            i += 1
            events.append(order(i, end - timedelta(days=day, minutes=n)))
    for n in range(60):  # then 60 in the last 24 hours: +500 % against the average
        i += 1
        events.append(order(i, end - timedelta(hours=1, minutes=n)))
    events.append(order(i + 1, end - timedelta(hours=2), quantity=-2))  # the gates' range
    events.append(order(i + 2, end - timedelta(hours=2), sku="UNKNOWN"))  # relationships
    events.append(
        {
            "event_id": "30000000-0000-4000-8000-000000000001",
            "source": "manufacturing",
            "event_type": "ManufacturingBatch",
            "inserted_at": end - timedelta(hours=3),
            "payload": {
                "batch_id": "B-1",
                "sku": "S-1",
                "production_date": "2026-10-31",
                "quantity_produced": 10,
                "defect_rate_estimate": {"units": 15, "scale": 1},
            },
        }
    )
    return events


def test_business_rule_tests_fail_on_crafted_data(tmp_path: Path) -> None:
    """Silver's SKU relationships fail on data built to break them (severity raised to error
    through the project var); the ranges and Gold's known SKUs are the gates' alone (no dbt test
    repeats them, test_no_check_has_two_owners), so a plain build only warns on the unknown SKU."""
    path = tmp_path / "crafted.duckdb"
    insert_raw_duckdb(path, raw_rows(_crafted_events(), file_prefix="crafted"))
    settings = _settings(path, tmp_path)
    target = ["--target-path", str(tmp_path / "target")]
    duckdb_target = DuckDBTarget(settings.duckdb_path)
    built = invoke_dbt(["build", *target], settings, duckdb_target)  # default severities: warnings only
    assert not built.failed, [n.describe() for n in built.failed]
    summary = invoke_dbt(
        ["test", "--vars", "{business_rule_severity: error}", *target],
        settings, duckdb_target,
    )
    failed = {n.name for n in summary.failed}
    expected_failures = {"relationships_stg_order_created_sku__sku__ref_stg_card_catalog_entry_inserted_"}
    assert failed == expected_failures, failed
    assert expected_failures <= {n.name for n in built.warnings}
    # the negative quantity and the defect rate of 1.5 are in Silver and Gold, for the gates to stop
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT count(*) FROM GOLD.fct_orders WHERE quantity < 0").fetchone() == (1,)
        assert con.execute(
            "SELECT count(*) FROM GOLD.fct_batch_performance WHERE defect_rate_estimate > 1"
        ).fetchone() == (1,)

    # required columns: one not_null_columns test per model, one failing row per column with NULLs
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE GOLD.fct_orders SET customer_id = NULL, status = NULL "
            "WHERE order_id = (SELECT min(order_id) FROM GOLD.fct_orders)"
        )
        con.execute(  # a row of the latest run: Silver tests check the increment
            "UPDATE SILVER.stg_order_created SET sku = NULL WHERE event_id = (SELECT min(event_id) "
            "FROM SILVER.stg_order_created WHERE processed_at = "
            "(SELECT max(processed_at) FROM SILVER.stg_order_created))"
        )
    nulls = invoke_dbt(["test", "--select", "test_name:not_null_columns", *target], settings, duckdb_target)
    failed_by_model = {
        model: n.failures for n in nulls.failed for model in ("fct_orders", "stg_order_created") if model in n.name
    }
    assert failed_by_model == {"fct_orders": 2, "stg_order_created": 1}, [n.describe() for n in nulls.nodes]
    assert len(nulls.failed) == 2 and len(nulls.nodes) == 11  # ten models and RAW.EVENTS


def test_project_has_no_json_extension_and_one_model_per_name() -> None:
    """GUIDE §3: `json` must not be listed under dbt-duckdb extensions (INSTALL goes online); and no
    model is duplicated per adapter (one file per model name)."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    assert "extensions" not in profiles["cardflow"]["outputs"]["duckdb"]
    names = [p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql")]
    assert len(names) == len(set(names))
    assert not any(n.endswith(("_duckdb", "_snowflake")) for n in names)


def test_redelivered_rows_are_kept_once(warehouse: Warehouse) -> None:
    """A re-delivered copy (same event_id, later ingested_at) is the copy Silver keeps, once."""
    rows = _table(warehouse.path, "SILVER", "stg_order_created", "event_id")
    assert len({r[0] for r in rows}) == len(rows)
    assert any(r[11].startswith("redelivery") for r in rows)  # file_name of the kept copy


def _malformed(event_id: str, inserted_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "orders",
        "event_type": "OrderCreated",
        "payload": ["not", "an", "object"],
        "inserted_at": inserted_at,
    }


def test_silver_watermark_is_what_the_build_examined_not_its_rows(tmp_path: Path) -> None:
    """An empty Silver model (int_events_rejected on clean data) records how far into RAW its build
    looked, so the next run reads only RAW rows loaded since (minus the lookback) instead of all of
    RAW: a row loaded before that point is taken as seen; a full refresh still reads everything."""
    path = tmp_path / "warehouse.duckdb"
    settings = _settings(path, tmp_path)
    clean, _ = generate(events=400, seed=5, anomalies=False)
    now = datetime.now(UTC)
    insert_raw_duckdb(path, raw_rows(clean, file_prefix="clean", loaded_at=now - timedelta(days=2)))
    _build(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM SILVER.int_events_rejected").fetchone() == (0,)
        comments = dict(
            con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'SILVER'"
            ).fetchall()
        )
    assert set(comments) >= {"int_events_rejected", "int_event_conflicts", "stg_order_created"}
    assert all(c.startswith("cardflow raw_loaded_through=") for c in comments.values()), comments

    old = _malformed("00000000-0000-4000-8000-0000000000a1", DEFAULT_END)
    new = _malformed("00000000-0000-4000-8000-0000000000a2", DEFAULT_END)
    insert_raw_duckdb(path, raw_rows([old], file_prefix="old", loaded_at=now - timedelta(days=3)))
    insert_raw_duckdb(path, raw_rows([new], file_prefix="new", loaded_at=now))
    _build(settings)
    rejected = "SELECT event_id FROM SILVER.int_events_rejected ORDER BY 1"
    with duckdb.connect(str(path), read_only=True) as con:
        assert [r[0] for r in con.execute(rejected).fetchall()] == [new["event_id"]]
    _build(settings, "--full-refresh")
    with duckdb.connect(str(path), read_only=True) as con:
        assert [r[0] for r in con.execute(rejected).fetchall()] == [old["event_id"], new["event_id"]]


def test_gold_facts_compare_only_the_silver_rows_written_since_their_last_build(tmp_path: Path) -> None:
    """fct_orders and fct_batch_performance record how far into Silver their build looked (Silver's
    max(processed_at)); the next run compares only the Silver rows stamped since then (minus the
    lookback) with Gold, not all of Silver: a Silver row stamped before that point is taken as
    reflected, one stamped after it is picked up, and a full refresh reads everything."""
    path = tmp_path / "warehouse.duckdb"
    settings = load_settings(data_dir=tmp_path, duckdb_path_override=path, dbt_lookback_minutes=0)
    events, _ = generate(events=400, seed=8, anomalies=False)
    insert_raw_duckdb(path, raw_rows(events, file_prefix="base", loaded_at=datetime.now(UTC) - timedelta(days=1)))
    _build(settings)
    comment = "SELECT comment FROM duckdb_tables() WHERE schema_name = 'GOLD' AND table_name = ?"
    newest = "SELECT strftime(max(processed_at), '%Y-%m-%d %H:%M:%S.%f') FROM SILVER."
    with duckdb.connect(str(path), read_only=True) as con:
        for fact, silver in (("fct_orders", "stg_order_created"), ("fct_batch_performance", "stg_manufacturing_batch")):
            [(recorded,)] = con.execute(comment, [fact]).fetchall()
            assert recorded == "cardflow silver_processed_through=" + con.execute(newest + silver).fetchone()[0]
        order_id, quantity = con.execute("SELECT order_id, quantity FROM GOLD.fct_orders ORDER BY order_id").fetchone()

    def gold_quantity() -> int:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("SELECT quantity FROM GOLD.fct_orders WHERE order_id = ?", [order_id]).fetchone()[0]

    # a change in Silver stamped before what Gold's last build looked at: not compared again
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE SILVER.stg_order_created SET quantity = quantity + 5 WHERE order_id = ?", [order_id])
    _build(settings, "--select", "fct_orders")
    assert gold_quantity() == quantity
    # the same change stamped after it (as a Silver run stamps what it writes): picked up
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE SILVER.stg_order_created SET processed_at = processed_at + INTERVAL 1 DAY WHERE order_id = ?",
            [order_id],
        )
    _build(settings, "--select", "fct_orders")
    assert gold_quantity() == quantity + 5
    # without the record (a table copied without its comment) the build compares all of Silver
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE SILVER.stg_order_created SET quantity = quantity + 1 WHERE order_id = ?", [order_id])
        con.execute("COMMENT ON TABLE GOLD.fct_orders IS ''")
    _build(settings, "--select", "fct_orders")
    assert gold_quantity() == quantity + 6
