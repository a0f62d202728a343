"""What both validation engines share: expectation kinds, GX's result format, suite-order tags.

The DuckDB engine splits a suite into passes by kind (row count, table aggregates, uniqueness, row
checks); the Snowflake engine runs the whole suite at once. Both tag each expectation with its position
so results come back in the suite's order whatever order GX returns them in.
"""

from __future__ import annotations

from typing import Any

from cardflow.quality.results import PARTIAL_VALUES, gx_config
from cardflow.quality.suites import SuiteSpec

ROWCOUNT_TYPES = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
AGGREGATE_TYPES = frozenset(
    {
        "expect_column_max_to_be_between",
        "expect_column_min_to_be_between",
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_column_to_exist",
    }
)
UNIQUE_TYPES = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


def result_format(with_rows: bool = False) -> dict[str, Any]:
    """SUMMARY counts and a few values; unexpected rows only on request (they cost about 2.5x)."""
    fmt: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_VALUES}
    if with_rows:
        fmt["include_unexpected_rows"] = True
    return fmt


def indexed_config(config: dict[str, Any], index: int) -> dict[str, Any]:
    """The config with its position in ``meta`` (GX returns results in its own order)."""
    tagged = gx_config(config)
    tagged["meta"] = {**(tagged.get("meta") or {}), "cardflow_index": index}
    return tagged


def in_suite_order(results: list[Any], expected: int) -> list[Any]:
    """Results re-ordered by the ``cardflow_index`` tag; fails loudly if one is missing."""
    ordered: list[Any] = [None] * expected
    for result in results:
        ordered[int(result.expectation_config.meta["cardflow_index"])] = result
    if any(r is None for r in ordered):
        raise RuntimeError(f"GX returned {len(results)} results for {expected} expectations")
    return ordered


def columns_of(config: dict[str, Any]) -> list[str]:
    """The columns an expectation reads (a streamed pass selects only these)."""
    kwargs = config.get("kwargs", {})
    cols: list[str] = []
    if "column" in kwargs:
        cols.append(kwargs["column"])
    cols += [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    cols += list(kwargs.get("column_list") or [])
    return cols


def unique_key(config: dict[str, Any]) -> tuple[str, ...]:
    """The key a uniqueness expectation checks (its pass reads only these columns)."""
    kwargs = config["kwargs"]
    return (kwargs["column"],) if "column" in kwargs else tuple(kwargs["column_list"])


def select_list(spec: SuiteSpec, columns: list[str] | None) -> str:
    """The SELECT list of ``columns`` (all when None) plus the suite's derived columns among them."""
    base = "*" if columns is None else ", ".join(columns)
    derived = [
        f"{expr} AS {name}"
        for name, expr in spec.derived_columns.items()
        if columns is None or name in columns
    ]
    return ", ".join([base, *derived]) if derived and base else (base or ", ".join(derived))
