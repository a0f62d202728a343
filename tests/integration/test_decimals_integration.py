"""Every decimal the contract accepts is exact in Gold, on DuckDB and on the fakesnow Snowflake target.

Boundary values of the one decimal rule (scales 0 and 18, 64-bit units at both ends, the issue's
``{1234567890123, 12}`` and ``{125000, 5}``); the random counterpart is the hypothesis property test
in ``test_decimals_property_integration.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cardflow.contract import UNITS_MAX, UNITS_MIN, validate_payload
from cardflow.errors import ContractViolation
from tests.decimal_gold import Order, assert_exact, gold_duckdb, gold_fakesnow

pytestmark = pytest.mark.integration

BOUNDARIES: list[Order] = [
    (1234567890123, 12, 3),
    (125000, 5, 2),
    (UNITS_MAX, 18, 7),
    (UNITS_MIN, 18, 1),
    (UNITS_MAX, 0, 10),  # 9.2e19: just under the 10^20 a NUMBER(38, 18) holds
    (1, 18, 1),
    (-1, 18, 99999),
    (0, 9, 5),
    (1999, 2, 1_000_000),
]


def test_boundary_decimals_are_exact_on_duckdb(tmp_path: Path) -> None:
    assert_exact(gold_duckdb(BOUNDARIES, tmp_path), BOUNDARIES)


def test_boundary_decimals_are_exact_on_fakesnow(fakesnow_port: int, tmp_path: Path) -> None:
    assert_exact(gold_fakesnow(BOUNDARIES, tmp_path, fakesnow_port), BOUNDARIES)


@pytest.mark.parametrize(
    ("price", "quantity", "reason"),
    [
        ({"units": UNITS_MAX + 1, "scale": 0}, 1, "decimal_out_of_range"),
        ({"units": UNITS_MAX, "scale": 0}, 11, "decimal_out_of_range"),  # order_total >= 10^20
        ({"units": 1, "scale": 19}, 1, "bad_decimal"),
    ],
)
def test_values_no_column_holds_are_refused_at_the_contract(price: dict, quantity: int, reason: str) -> None:
    payload = {"order_id": "O", "order_ts": "2026-11-20T10:00:00+00:00", "customer_id": "C", "sku": "S",
               "quantity": quantity, "price": price, "status": "PAID"}  # fmt: skip
    with pytest.raises(ContractViolation) as info:
        validate_payload("OrderCreated", payload)
    assert info.value.reason == reason
