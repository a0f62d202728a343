"""Property: for random contract-valid decimals (scale 0..18, 64-bit units, amounts a NUMBER(38, 18)
holds), Gold's unit_price and order_total equal an independent Python ``Decimal`` computation, on
DuckDB and on the fakesnow Snowflake target.

Each example is one dbt run over a list of orders, so the example counts are small; the lists are
long enough that each run covers many scales at once.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardflow.contract import AMOUNT_LIMIT, DECIMAL_SCALES, UNITS_MAX, UNITS_MIN
from tests.decimal_gold import Order, assert_exact, gold_duckdb, gold_fakesnow

pytestmark = pytest.mark.integration


@st.composite
def _order(draw: st.DrawFn) -> Order:
    """(units, scale, quantity) with |quantity * price| below the 10^20 a NUMBER(38, 18) holds."""
    units = draw(st.integers(UNITS_MIN, UNITS_MAX))
    scale = draw(st.sampled_from(DECIMAL_SCALES))
    price = abs(Decimal(units).scaleb(-scale))
    most = min(10**6, int((AMOUNT_LIMIT - 1) / price) if price else 10**6)
    return units, scale, draw(st.integers(0, most))


orders_strategy = st.lists(_order(), min_size=1, max_size=30)
SETTINGS = settings(
    max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(orders=orders_strategy)
def test_gold_amounts_equal_python_decimals_on_duckdb(orders: list[Order]) -> None:
    with tempfile.TemporaryDirectory(prefix="cardflow-dec-") as workdir:
        assert_exact(gold_duckdb(orders, Path(workdir)), orders)


@SETTINGS
@given(orders=orders_strategy)
def test_gold_amounts_equal_python_decimals_on_fakesnow(fakesnow_port: int, orders: list[Order]) -> None:
    with tempfile.TemporaryDirectory(prefix="cardflow-dec-sf-") as workdir:
        assert_exact(gold_fakesnow(orders, Path(workdir), fakesnow_port), orders)
