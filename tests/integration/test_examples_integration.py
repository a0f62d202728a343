"""Every starter query in ``sql/examples.sql`` runs, returns rows, and returns the right rows.

Gold is built by the real dbt project on DuckDB from generated demo-like events; each query's
result must equal what :class:`tests.expected_examples.GoldModel` computes in plain Python from
the same events. The same SQL text then runs on the fakesnow-backed Snowflake target (Gold tables
recreated there with Snowflake types) and must return the same rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from cardflow.sqlfiles import named_queries, read_sql
from tests.expected_examples import GoldModel
from tests.gold_factory import GoldBuild, build_gold_duckdb, build_gold_snowflake, connect_fakesnow

pytestmark = pytest.mark.integration

QUERIES = named_queries("examples.sql", gold="GOLD")
EXPECTED_KEYS = {
    "top_skus_by_revenue", "top_players_by_revenue", "revenue_by_sport_by_day", "revenue_by_team_by_day",
    "revenue_by_player_by_day", "defect_rate_by_sku", "defect_rate_by_batch", "supply_vs_demand",
    "oversold_skus", "latest_catalog_entries",
}


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> GoldBuild:
    return build_gold_duckdb(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def model(gold: GoldBuild) -> GoldModel:
    return GoldModel(gold.events)


@pytest.fixture(scope="module")
def duckdb_results(gold: GoldBuild) -> dict[str, list[tuple]]:
    with duckdb.connect(str(gold.duckdb_path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return {key: con.execute(sql).fetchall() for key, sql in QUERIES.items()}


def _norm(value: Any) -> Any:
    """One representation for both drivers: UTC datetimes, Decimals for exact numbers."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _rows(rows: list[tuple], day_columns: tuple[int, ...] = ()) -> list[tuple]:
    out = []
    for row in rows:
        values = [_norm(v) for v in row]
        for i in day_columns:  # date_trunc('day', ts) gives a timestamp: compare its UTC date
            values[i] = values[i].date() if isinstance(values[i], datetime) else values[i]
        out.append(tuple(values))
    return out


def test_examples_file_holds_the_documented_queries() -> None:
    assert set(QUERIES) == EXPECTED_KEYS
    text = read_sql("examples.sql")
    assert "{" not in text, "examples.sql must run unchanged: literal schema names, no placeholders"
    for sql in QUERIES.values():
        assert "gold." in sql.lower()


def test_every_query_returns_rows(duckdb_results: dict[str, list[tuple]]) -> None:
    empty = [key for key, rows in duckdb_results.items() if not rows]
    assert not empty, f"starter queries returned no rows on demo-like data: {empty}"


@pytest.mark.parametrize(
    ("key", "day_columns"),
    [
        ("top_skus_by_revenue", ()),
        ("top_players_by_revenue", ()),
        ("revenue_by_sport_by_day", (0,)),
        ("revenue_by_team_by_day", (0,)),
        ("revenue_by_player_by_day", (0,)),
        ("defect_rate_by_batch", ()),
        ("supply_vs_demand", ()),
        ("oversold_skus", ()),
        ("latest_catalog_entries", ()),
    ],
)
def test_query_equals_independent_computation(
    key: str, day_columns: tuple[int, ...], duckdb_results: dict[str, list[tuple]], model: GoldModel
) -> None:
    expected = _rows(getattr(model, key)())
    assert expected, f"the generated data should exercise {key}"
    assert _rows(duckdb_results[key], day_columns) == expected


def test_defect_rate_by_sku_equals_independent_computation(
    duckdb_results: dict[str, list[tuple]], model: GoldModel
) -> None:
    rows = duckdb_results["defect_rate_by_sku"]
    # ordered by the rounded rate (worst first), sku breaking ties
    keys = [(-float(r[6]), r[0]) for r in rows]
    assert keys == sorted(keys)
    got = sorted(rows)
    expected = model.defect_rate_by_sku()
    assert [r[:6] for r in _rows(got)] == [r[:6] for r in _rows(expected)]
    for g, e in zip(got, expected, strict=True):  # a ratio: DuckDB divides in double precision
        assert float(g[6]) == pytest.approx(float(e[6]), abs=1.1e-6), g[0]


def test_revenue_by_day_adds_up_to_total_revenue(duckdb_results: dict[str, list[tuple]], model: GoldModel) -> None:
    """The per-day splits lose nothing: by sport, by team (point in time) and all sold orders agree."""
    total = sum((o.order_total for o in model.sold), Decimal(0))
    assert sum(r[4] for r in duckdb_results["revenue_by_sport_by_day"]) == total
    assert sum(r[4] for r in duckdb_results["revenue_by_team_by_day"]) == total


def test_team_revenue_follows_the_catalog_at_order_time(model: GoldModel) -> None:
    """The generated data holds catalog corrections of teams with orders on both sides of them."""
    corrected = {sku for sku, versions in model.versions.items() if len(versions) > 1}
    assert corrected
    differs = [
        o for o in model.sold
        if o.sku in corrected and model.version_at(o.sku, o.order_ts).attributes["team_name"]
        != model.cards[o.sku]["team_name"]
    ]
    assert differs, "some orders precede a team correction, so point-in-time attribution matters"


def test_examples_map_to_a_configured_gold_schema() -> None:
    """A deployment with another Gold schema name runs the same file."""
    queries = named_queries("examples.sql", gold="ANALYTICS")
    for sql in queries.values():
        assert "analytics." in sql.lower()
        assert "gold." not in sql.lower()


@pytest.fixture(scope="module")
def snowflake_results(
    gold: GoldBuild, fakesnow_port: int, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[tuple]]:
    database = "CARDFLOW_EXAMPLES"
    copied = build_gold_snowflake(gold, fakesnow_port, database, tmp_path_factory.mktemp("fakesnow-gold"))
    assert all(copied.values()), copied
    conn = connect_fakesnow(fakesnow_port)
    try:
        conn.cursor().execute(f"USE DATABASE {database}")
        results = {}
        for key, sql in QUERIES.items():
            cur = conn.cursor()
            cur.execute(sql)
            results[key] = [tuple(r) for r in cur.fetchall()]
        return results
    finally:
        conn.close()


def _comparable(rows: list[tuple]) -> list[tuple]:
    """Numbers as floats rounded to 6 places: fakesnow returns SUM() of NUMBER columns as FLOAT
    (real Snowflake keeps NUMBER); exactness is checked against Python on DuckDB above."""
    out = []
    for row in _rows(rows):
        out.append(tuple(
            round(float(v), 6) if isinstance(v, float | Decimal) and not isinstance(v, bool) else v for v in row
        ))
    return out


def test_every_query_runs_on_the_snowflake_target(
    snowflake_results: dict[str, list[tuple]], duckdb_results: dict[str, list[tuple]]
) -> None:
    assert set(snowflake_results) == EXPECTED_KEYS
    for key, rows in snowflake_results.items():
        assert rows, f"{key} returned no rows on the Snowflake target"
        got, want = _comparable(rows), _comparable(duckdb_results[key])
        assert got == want, f"{key}: Snowflake and DuckDB results differ"


def test_fixture_dates_are_days(duckdb_results: dict[str, list[tuple]]) -> None:
    """date_trunc('day', ...) gives midnight UTC on DuckDB with the session in UTC."""
    for row in duckdb_results["revenue_by_sport_by_day"]:
        day = _norm(row[0])
        assert (day.hour, day.minute, day.second) == (0, 0, 0)
        assert isinstance(day.date(), date)
