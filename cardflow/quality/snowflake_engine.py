"""The Snowflake engine of the quality gate: GX's SQL datasource, so every metric runs in the warehouse.

A model with derived columns is validated through a query asset; the others as table assets. The
connection comes from the same :class:`SnowflakeParams` the session was opened with.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from cardflow.quality.results import ExpectationOutcome, ModelResult
from cardflow.quality.suites import SuiteSpec, describe_expectation
from cardflow.quality.validation import ROWCOUNT_TYPES, in_suite_order, indexed_config, result_format, select_list
from cardflow.warehouse.connection import WarehouseSession
from cardflow.warehouse.snowflake import SnowflakeParams


def snowflake_datasource_args(params: SnowflakeParams, schema: str) -> dict[str, Any]:
    """``connection_string`` and engine ``kwargs`` for GX's Snowflake datasource, from the same
    :class:`SnowflakeParams` every other Snowflake consumer uses (the password is never logged)."""
    return params.sqlalchemy_args(schema, query_tag="cardflow-gx")


class SnowflakeValidator:
    """GX's SQL datasource on Snowflake: metrics are computed by the warehouse."""

    def __init__(self, params: SnowflakeParams, schema: str) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.database = params.database
        self.schema = schema
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_snowflake(
            f"cardflow_{schema.lower()}", **snowflake_datasource_args(params, schema)
        )

    def validate_model(self, spec: SuiteSpec, parameters: dict[str, Any]) -> ModelResult:
        relation = f"{self.schema}.{spec.name}"
        configs = spec.expectations
        outcomes = [ExpectationOutcome(spec.name, describe_expectation(c), c) for c in configs]
        name = f"{spec.name}_{int(time.time() * 1000)}"
        if spec.derived_columns:
            query = (
                f"SELECT {select_list(spec, None)} FROM "
                f"{self.database}.{self.schema}.{spec.name}"
            )
            asset = self.source.add_query_asset(name, query=query)
        else:
            asset = self.source.add_table_asset(
                name, table_name=spec.name.lower(), schema_name=self.schema.lower()
            )
        batch = asset.add_batch_definition_whole_table("whole").get_batch()
        suite = self.gx.ExpectationSuite(
            name=spec.name, expectations=[indexed_config(c, i) for i, c in enumerate(configs)]
        )
        result = batch.validate(suite, result_format=result_format(True), expectation_parameters=parameters)
        for outcome, res in zip(outcomes, in_suite_order(result.results, len(configs)), strict=True):
            outcome.merge(res)
            outcome.finish()
        rows = next(
            (
                int(o.observed_value)
                for o in outcomes
                if o.config["type"] in ROWCOUNT_TYPES and isinstance(o.observed_value, int | float)
            ),
            -1,
        )
        return ModelResult(spec.name, relation, rows, outcomes, 1)


def with_session_role(warehouse: WarehouseSession, params: SnowflakeParams) -> SnowflakeParams:
    """``params`` with the role filled in from the open session when none was configured.

    SNOWFLAKE_ROLE is optional (Snowflake then uses the user's default role), but GX's Snowflake
    datasource refuses a connection URL without a role: name the role the session actually got.
    """
    if params.role:
        return params
    role = warehouse.query("SELECT CURRENT_ROLE()")[0][0]
    return dataclasses.replace(params, role=str(role)) if role else params
