"""Suite files: every shipped suite loads with all its expectations; malformed ones fail by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardflow.errors import SuiteDefinitionError
from cardflow.quality.suites import EXPECTATIONS_DIR, load_suite_file, load_suites, suites_for
from cardflow.transform.wap import layer_models

SILVER = {"stg_card_catalog_entry_inserted", "stg_order_created", "stg_manufacturing_batch"}
GOLD = {"dim_card", "fct_orders", "fct_batch_performance", "dim_card_history", "fct_sku_supply_demand"}


def test_one_suite_per_gated_model_and_every_expectation_accepted() -> None:
    suites = load_suites()
    assert {s.name for s in suites_for("silver")} == SILVER
    assert {s.name for s in suites_for("gold")} == GOLD
    for spec in suites.values():
        on_disk = json.loads(spec.path.read_text())["expectations"]
        assert len(spec.build().expectations) == len(on_disk), spec.name


def test_every_suite_gates_a_dbt_model_of_its_layer() -> None:
    for layer in ("silver", "gold"):
        models = set(layer_models(layer))
        assert {s.name for s in suites_for(layer)} <= models


@pytest.mark.parametrize(
    ("model", "expectation", "column"),
    [
        ("stg_order_created", "expect_column_values_to_be_between", "quantity"),
        ("stg_order_created", "expect_compound_columns_to_be_unique", None),
        ("stg_manufacturing_batch", "expect_column_values_to_be_between", "defect_rate_estimate"),
        ("fct_orders", "expect_column_pair_values_to_be_equal", None),
        ("fct_orders", "expect_column_values_to_be_in_set", "sku"),
        ("fct_batch_performance", "expect_column_pair_values_a_to_be_greater_than_b", None),
        ("fct_sku_supply_demand", "expect_column_values_to_be_in_set", "is_known_sku"),
    ],
)
def test_contract_checks_are_in_the_suites(model: str, expectation: str, column: str | None) -> None:
    configs = load_suites()[model].expectations
    assert any(
        c["type"] == expectation and (column is None or c["kwargs"].get("column") == column) for c in configs
    )


def _write(tmp_path: Path, expectations: list[dict]) -> Path:
    path = tmp_path / "stg_order_created.json"
    path.write_text(
        json.dumps(
            {
                "name": "stg_order_created",
                "expectations": expectations,
                "meta": {"cardflow": {"layer": "silver", "chunk_key": ["event_id"]}},
            }
        )
    )
    return path


def test_unknown_expectation_type_is_named_not_dropped(tmp_path: Path) -> None:
    good = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}}
    typo = {"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "quantity", "min_value": 0}}
    with pytest.raises(SuiteDefinitionError) as err:
        load_suite_file(_write(tmp_path, [good, typo]))
    assert "expect_column_values_to_be_betwen(quantity)" in str(err.value)
    assert len(err.value.problems) == 1


def test_bad_kwargs_are_named(tmp_path: Path) -> None:
    bad = {"type": "expect_column_values_to_not_be_null", "kwargs": {"colum": "event_id"}}
    with pytest.raises(SuiteDefinitionError, match=r"#0 expect_column_values_to_not_be_null"):
        load_suite_file(_write(tmp_path, [bad]))


def test_suite_must_say_which_layer_and_model(tmp_path: Path) -> None:
    path = tmp_path / "fct_orders.json"
    path.write_text(
        json.dumps(
            {
                "name": "other",
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "order_id"}}
                ],
            }
        )
    )
    with pytest.raises(SuiteDefinitionError) as err:
        load_suite_file(path)
    assert any("file name" in p for p in err.value.problems)
    assert any("layer" in p for p in err.value.problems)


def test_suites_live_in_expectations_dir() -> None:
    assert EXPECTATIONS_DIR.name == "expectations"
    assert sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json")) == sorted(SILVER | GOLD)


NOT_A_RANGE = frozenset({"unique", "not_null", "relationships", "accepted_values"})
"""dbt tests that can sit on a column a gate checks a range of; any other test there (a
``non_negative``, a ``dbt_utils.accepted_range``, whatever its name) would repeat the range."""


def relation_membership(config: dict) -> bool:
    """An in-set expectation whose set is another table's keys (``known_skus``: dim_card)."""
    value_set = config["kwargs"].get("value_set")
    return config["type"] == "expect_column_values_to_be_in_set" and isinstance(value_set, dict)


def test_no_check_has_two_owners() -> None:
    """Row and column rules dbt tests own (not_null, accepted_values, keys) are not repeated in the
    suites; business-rule ranges and known SKUs are the gates' (no dbt test repeats them on the
    same column); freshness belongs to the RAW checks, not to a Silver suite."""
    import yaml

    from cardflow.transform.wap import DBT_MODELS_DIR

    dbt_tests: dict[tuple[str, str], set[str]] = {}
    for path in DBT_MODELS_DIR.rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            for test in model.get("data_tests") or []:  # required columns, one test per model
                if isinstance(test, dict) and "not_null_columns" in test:
                    for column in test["not_null_columns"]["arguments"]["columns"]:
                        dbt_tests.setdefault((model["name"], column), set()).add("not_null")
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or []:
                    name = test if isinstance(test, str) else next(iter(test))
                    dbt_tests.setdefault((model["name"], column["name"]), set()).add(name)
    owned_by_dbt = {
        "expect_column_values_to_not_be_null": "not_null",
        "expect_column_values_to_be_in_set": "accepted_values",
    }
    for spec in load_suites().values():
        for config in spec.expectations:
            column = config["kwargs"].get("column")
            dbt_name = owned_by_dbt.get(config["type"])
            literal_set = config["type"] != "expect_column_values_to_be_in_set" or isinstance(
                config["kwargs"].get("value_set"), list
            )
            assert not (
                dbt_name and literal_set and dbt_name in dbt_tests.get((spec.name, column), set())
            ), f"{spec.name}: {config['type']}({column}) is a dbt test already"
            tested = dbt_tests.get((spec.name, column), set())
            if config["type"] == "expect_column_values_to_be_unique":
                assert "unique" not in tested, f"{spec.name}.{column}: dbt's unique test owns the key"
            if config["type"] == "expect_column_values_to_be_between":
                assert tested <= NOT_A_RANGE, f"{spec.name}.{column}: dbt tests {tested - NOT_A_RANGE} repeat the range"
            if relation_membership(config):
                assert "relationships" not in tested, f"{spec.name}.{column}: a dbt test repeats known SKUs"
            assert config["type"] != "expect_column_max_to_be_between" or column != "event_inserted_at"


def test_a_column_name_that_is_not_an_identifier_is_refused(tmp_path: Path) -> None:
    """The engines select suite columns unquoted: a name with quotes or a statement is refused."""
    bad = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x FROM t; DROP TABLE y; --"}}
    with pytest.raises(SuiteDefinitionError, match="not a plain SQL identifier"):
        load_suite_file(_write(tmp_path, [bad]))
