"""Great Expectations gates: validate the audit copies of Silver or Gold models against their suites.

Two engines, one result shape:

* DuckDB (GX has no DuckDB dialect): tables are read into pandas in bounded pieces and validated
  with GX's pandas datasource. Each suite is split into passes so that every verdict is exact for
  the whole table while memory stays at one chunk:

  - row checks (not null, ranges, sets, column pairs) stream the table in ``chunk_rows`` pieces
    holding only the columns they reference (plus the key, for sample rows);
  - each uniqueness check reads only its key columns, partitioned by ``hash(key) % k`` so that all
    copies of a key land in the same piece (a duplicate can never straddle two pieces);
  - table aggregates (row count, min/max, column set) run on a frame of the table's min and max
    per column, and the row count on an empty frame with as many rows as the table (no columns,
    no memory).

  Per-chunk results are merged per expectation (counts summed, a few unexpected values and rows
  kept).
* Snowflake: GX's SQL datasource (snowflake-sqlalchemy) so every metric runs in the warehouse; a
  model with derived columns is validated through a query asset.

``validate_layer`` returns a :class:`GateResult`; :func:`write_data_docs` stores the merged results
in a GX file context under the data directory and renders the Data Docs site there.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardflow.quality.suites import SuiteSpec, describe_expectation
from cardflow.warehouse.connection import WarehouseSession
from cardflow.warehouse.snowflake import SnowflakeParams

logger = logging.getLogger(__name__)

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
SAMPLE_ROWS = 5
PARTIAL_VALUES = 10


def _result_format(with_rows: bool = False) -> dict[str, Any]:
    """SUMMARY counts and a few values; unexpected rows only on request (they cost about 2.5x)."""
    fmt: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_VALUES}
    if with_rows:
        fmt["include_unexpected_rows"] = True
    return fmt


@dataclass
class ExpectationOutcome:
    """The verdict of one expectation over a whole table."""

    model: str
    name: str
    config: dict[str, Any]
    success: bool = True
    element_count: int = 0
    missing_count: int = 0
    unexpected_count: int = 0
    observed_value: Any = None
    partial_unexpected: list[Any] = field(default_factory=list)
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    counted: bool = False

    @property
    def why(self) -> str:
        return str((self.config.get("meta") or {}).get("why", ""))

    def summary(self) -> str:
        """One line: what failed and what was observed."""
        if self.error:
            return f"{self.model}: {self.name}: error: {self.error}"
        if self.counted:
            values = ", ".join(_short(v) for v in self.partial_unexpected[:3])
            more = f" (e.g. {values})" if values else ""
            counts = f"{self.unexpected_count} of {self.element_count} rows unexpected"
            return f"{self.model}: {self.name}: {counts}{more}"
        return f"{self.model}: {self.name}: observed {_short(self.observed_value)}"

    def merge(self, result: Any) -> None:
        """Fold one chunk's ``ExpectationValidationResult`` into this outcome."""
        info = result.exception_info or {}
        if info.get("raised_exception"):
            self.success = False
            self.error = str(info.get("exception_message") or "GX raised an exception").splitlines()[0]
            return
        self.success = self.success and bool(result.success)
        data = dict(result.result or {})
        if "unexpected_count" in data and data["unexpected_count"] is not None:
            self.counted = True
            self.element_count += int(data.get("element_count") or 0)
            self.missing_count += int(data.get("missing_count") or 0)
            self.unexpected_count += int(data.get("unexpected_count") or 0)
            room = PARTIAL_VALUES - len(self.partial_unexpected)
            self.partial_unexpected.extend(
                _plain(v) for v in (data.get("partial_unexpected_list") or [])[:room]
            )
            rows = data.get("unexpected_rows")
            if rows is not None and len(self.sample_rows) < SAMPLE_ROWS:
                records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
                self.sample_rows.extend(
                    {k: _plain(v) for k, v in r.items()}
                    for r in records[: SAMPLE_ROWS - len(self.sample_rows)]
                )
        if "observed_value" in data:
            self.observed_value = _plain(data["observed_value"])

    def finish(self) -> None:
        """Apply ``mostly`` over the whole table (a per-chunk verdict is not the table's)."""
        mostly = (self.config.get("kwargs") or {}).get("mostly")
        if self.counted and mostly is not None and not self.error:
            nonmissing = self.element_count - self.missing_count
            self.success = nonmissing == 0 or (1 - self.unexpected_count / nonmissing) >= float(mostly)

    def to_gx(self) -> Any:
        """An ``ExpectationValidationResult`` for Data Docs."""
        from great_expectations.core import ExpectationValidationResult
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        result: dict[str, Any] = {}
        if self.counted:
            nonmissing = max(self.element_count - self.missing_count, 0)
            result = {
                "element_count": self.element_count,
                "missing_count": self.missing_count,
                "missing_percent": 100 * self.missing_count / self.element_count
                if self.element_count
                else 0.0,
                "unexpected_count": self.unexpected_count,
                "unexpected_percent": 100 * self.unexpected_count / nonmissing if nonmissing else 0.0,
                "unexpected_percent_total": (
                    100 * self.unexpected_count / self.element_count if self.element_count else 0.0
                ),
                "unexpected_percent_nonmissing": 100 * self.unexpected_count / nonmissing
                if nonmissing
                else 0.0,
                "partial_unexpected_list": [_short(v) for v in self.partial_unexpected],
            }
        elif self.observed_value is not None:
            result = {"observed_value": _short(self.observed_value)}
        exception_info = {
            "raised_exception": bool(self.error),
            "exception_message": self.error,
            "exception_traceback": None,
        }
        return ExpectationValidationResult(
            success=self.success,
            expectation_config=ExpectationConfiguration(**_resolved(self.config)),
            result=result,
            exception_info=exception_info,
        )


@dataclass
class ModelResult:
    """All expectations of one model's suite, validated on one relation."""

    model: str
    relation: str
    rows: int
    outcomes: list[ExpectationOutcome]
    chunks: int = 1

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


@dataclass
class GateResult:
    """One gate (silver or gold) over all its models."""

    gate: str
    schema: str
    engine: str
    models: list[ModelResult]
    seconds: float
    docs_index: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(m.success for m in self.models)

    def failures(self) -> list[str]:
        return [o.summary() for m in self.models for o in m.failed]

    def to_markdown(self) -> str:
        """The Prefect artifact: verdict, counts per model, each failed expectation with samples."""
        verdict = "PASSED: published" if self.success else "FAILED: nothing published, audit tables kept"
        evaluated = sum(len(m.outcomes) for m in self.models)
        failed = sum(len(m.failed) for m in self.models)
        lines = [
            f"# Quality gate `{self.gate}`: {verdict}",
            "",
            f"Audit schema `{self.schema}`, engine {self.engine}, {len(self.models)} models, "
            f"{evaluated} expectations, "
            f"{failed} failed, {self.seconds:.1f} s.",
            "",
            "| model | rows | chunks | expectations | failed |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {m.model} | {m.rows:,} | {m.chunks} | {len(m.outcomes)} | {len(m.failed)} |"
            for m in self.models
        ]
        for m in self.models:
            for o in m.failed:
                lines += ["", f"## {m.model}: `{o.name}`", ""]
                if o.why:
                    lines.append(f"Checks: {o.why}.")
                if o.error:
                    lines.append(f"Error: {o.error}")
                elif o.counted:
                    lines.append(
                        f"Unexpected: {o.unexpected_count:,} of {o.element_count:,} rows "
                        f"(missing {o.missing_count:,})."
                    )
                    if o.partial_unexpected:
                        lines.append(f"Observed values: {', '.join(_short(v) for v in o.partial_unexpected)}")
                else:
                    lines.append(f"Observed: {_short(o.observed_value)}")
                if o.sample_rows:
                    lines += ["", _markdown_table(o.sample_rows)]
        if self.docs_index:
            lines += ["", f"Data Docs: `{self.docs_index}`"]
        return "\n".join(lines) + "\n"


# --- helpers ----------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Numpy/pandas scalars and tuples to plain Python (JSON- and markdown-friendly)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    body = ["| " + " | ".join(_short(r.get(c), 40).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return head + "\n" + "\n".join(body)


def _resolved(config: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config without cardflow-only keys (GX rejects unknown top-level keys)."""
    return {k: copy.deepcopy(v) for k, v in config.items() if k in ("type", "kwargs", "meta")}


def _tagged(config: dict[str, Any], index: int) -> dict[str, Any]:
    """The config with its position in ``meta`` (GX returns results in its own order)."""
    tagged = _resolved(config)
    tagged["meta"] = {**(tagged.get("meta") or {}), "cardflow_index": index}
    return tagged


def _in_suite_order(results: list[Any], expected: int) -> list[Any]:
    """Results re-ordered by the ``cardflow_index`` tag; fails loudly if one is missing."""
    ordered: list[Any] = [None] * expected
    for result in results:
        ordered[int(result.expectation_config.meta["cardflow_index"])] = result
    if any(r is None for r in ordered):
        raise RuntimeError(f"GX returned {len(results)} results for {expected} expectations")
    return ordered


def _columns_of(config: dict[str, Any]) -> list[str]:
    kwargs = config.get("kwargs", {})
    cols: list[str] = []
    if "column" in kwargs:
        cols.append(kwargs["column"])
    cols += [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    cols += list(kwargs.get("column_list") or [])
    return cols


def _unique_key(config: dict[str, Any]) -> tuple[str, ...]:
    kwargs = config["kwargs"]
    return (kwargs["column"],) if "column" in kwargs else tuple(kwargs["column_list"])


class _PandasValidator:
    """One GX pandas datasource reused for every frame of a gate (ephemeral context)."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("cardflow_gate_frames")
        self.batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe(
            "whole"
        )

    def validate(
        self,
        name: str,
        configs: list[dict[str, Any]],
        frame: Any,
        parameters: dict[str, Any],
        *,
        with_rows: bool = False,
    ) -> list[Any]:
        """Results of ``configs`` on ``frame``, in the order of ``configs``."""
        suite = self.gx.ExpectationSuite(
            name=name, expectations=[_tagged(c, i) for i, c in enumerate(configs)]
        )
        if len(suite.expectations) != len(configs):  # verified at load time; never silently fewer
            raise RuntimeError(
                f"GX accepted {len(suite.expectations)} of {len(configs)} expectations of {name}"
            )
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        started = time.perf_counter()
        result = batch.validate(
            suite, result_format=_result_format(with_rows), expectation_parameters=parameters
        )
        logger.debug(
            "validated %s: %d rows, %d expectations, %.2f s",
            name,
            len(frame),
            len(configs),
            time.perf_counter() - started,
        )
        return _in_suite_order(result.results, len(configs))


# --- DuckDB engine ------------------------------------------------------------------------------
def _select_list(spec: SuiteSpec, columns: list[str] | None) -> str:
    base = "*" if columns is None else ", ".join(columns)
    derived = [
        f"{expr} AS {name}"
        for name, expr in spec.derived_columns.items()
        if columns is None or name in columns
    ]
    return ", ".join([base, *derived]) if derived and base else (base or ", ".join(derived))


def _stream_frames(warehouse: WarehouseSession, sql: str, chunk_rows: int) -> Iterator[Any]:
    """pandas frames of ``chunk_rows`` rows (rounded up to DuckDB vectors) from one streaming scan.

    DuckDB's own DataFrame conversion is used: it turns DECIMAL into float64 (exact decimals of the
    same value convert to the same float, so equality checks hold), where Arrow would produce Python
    ``Decimal`` objects that GX compares about ten times slower.
    """
    vectors = max(1, math.ceil(chunk_rows / 2048))
    result = warehouse.conn.execute(sql)
    while True:
        frame = result.fetch_df_chunk(vectors)
        if frame.empty:
            return
        yield frame


def validate_model_duckdb(
    warehouse: WarehouseSession,
    validator: _PandasValidator,
    spec: SuiteSpec,
    schema: str,
    parameters: dict[str, Any],
    chunk_rows: int,
) -> ModelResult:
    """Validate one DuckDB table against ``spec`` in bounded chunks (see the module doc)."""
    import pandas as pd

    relation = f"{schema}.{spec.name}"
    configs = spec.expectations
    outcomes = [ExpectationOutcome(spec.name, describe_expectation(c), c) for c in configs]
    if not warehouse.table_exists(schema, spec.name):
        for o in outcomes:
            o.success, o.error = False, f"table {relation} does not exist (did the dbt build run?)"
        return ModelResult(spec.name, relation, 0, outcomes, 0)
    rows = int(warehouse.query(f"SELECT count(*) FROM {relation}")[0][0])
    table_columns = warehouse.columns(schema, spec.name)
    available = set(table_columns) | set(spec.derived_columns)
    source = f"(SELECT {_select_list(spec, None)} FROM {relation}) AS gated"

    def run(indexes: list[int], frame: Any, label: str) -> None:
        results = validator.validate(
            f"{spec.name}__{label}", [configs[i] for i in indexes], frame, parameters
        )
        # sample rows only for what failed in this piece, and only until enough are kept
        want_rows = [
            i
            for i, r in zip(indexes, results, strict=True)
            if not r.success and len(outcomes[i].sample_rows) < SAMPLE_ROWS
        ]
        if want_rows:
            again = validator.validate(
                f"{spec.name}__{label}_rows",
                [configs[i] for i in want_rows],
                frame,
                parameters,
                with_rows=True,
            )
            redo = dict(zip(want_rows, again, strict=True))
            results = [redo.get(i, r) for i, r in zip(indexes, results, strict=True)]
        for i, result in zip(indexes, results, strict=True):
            outcomes[i].merge(result)

    # columns an expectation needs but the table lacks fail clearly instead of as a GX KeyError
    groups: dict[str, list[int]] = {"rowcount": [], "aggregate": [], "rows": []}
    unique_groups: dict[tuple[str, ...], list[int]] = {}
    for i, config in enumerate(configs):
        missing = [c for c in _columns_of(config) if c not in available]
        if missing and config["type"] not in AGGREGATE_TYPES:
            outcomes[i].success, outcomes[i].error = (
                False,
                f"column(s) {', '.join(missing)} missing in {relation}",
            )
            continue
        if config["type"] in ROWCOUNT_TYPES:
            groups["rowcount"].append(i)
        elif config["type"] in AGGREGATE_TYPES:
            groups["aggregate"].append(i)
        elif config["type"] in UNIQUE_TYPES:
            unique_groups.setdefault(_unique_key(config), []).append(i)
        else:
            groups["rows"].append(i)

    chunks = 1
    if groups["rowcount"]:
        run(groups["rowcount"], pd.DataFrame(index=pd.RangeIndex(rows)), "rowcount")
    if groups["aggregate"]:
        names = [*table_columns, *spec.derived_columns]
        agg = ", ".join(f"{fn}({c}) AS {c}" for c in names for fn in ("min",))
        agg_max = ", ".join(f"max({c}) AS {c}" for c in names)
        frame = warehouse.query_df(f"SELECT {agg} FROM {source} UNION ALL SELECT {agg_max} FROM {source}")
        if rows == 0:
            frame = frame.iloc[0:0]
        run(groups["aggregate"], frame, "aggregate")
    if groups["rows"]:
        needed = list(
            dict.fromkeys([*spec.chunk_key, *(c for i in groups["rows"] for c in _columns_of(configs[i]))])
        )
        needed = [c for c in needed if c in available]
        count = 0
        for frame in _stream_frames(warehouse, f"SELECT {', '.join(needed)} FROM {source}", chunk_rows):
            run(groups["rows"], frame, "rows")
            count += 1
        chunks = max(chunks, count)
    for key, indexes in unique_groups.items():
        # key-only frames are narrow: four times the rows in the same memory
        parts = max(1, math.ceil(rows / (4 * chunk_rows)))
        cols = ", ".join(key)
        for part in range(parts):
            where = f"WHERE hash({cols}) % {parts} = {part}" if parts > 1 else ""
            run(indexes, warehouse.query_df(f"SELECT {cols} FROM {source} {where}"), f"unique_{part}")
        chunks = max(chunks, parts)
    for o in outcomes:
        o.finish()
    return ModelResult(spec.name, relation, rows, outcomes, chunks)


# --- Snowflake engine ---------------------------------------------------------------------------
def snowflake_datasource_args(params: SnowflakeParams, schema: str) -> dict[str, Any]:
    """``connection_string`` and engine ``kwargs`` for GX's Snowflake datasource, from the same
    :class:`SnowflakeParams` every other Snowflake consumer uses (the password is never logged)."""
    return params.sqlalchemy_args(schema, query_tag="cardflow-gx")


class _SnowflakeValidator:
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
                f"SELECT {_select_list(spec, None)} FROM "
                f"{self.database}.{self.schema}.{spec.name}"
            )
            asset = self.source.add_query_asset(name, query=query)
        else:
            asset = self.source.add_table_asset(
                name, table_name=spec.name.lower(), schema_name=self.schema.lower()
            )
        batch = asset.add_batch_definition_whole_table("whole").get_batch()
        suite = self.gx.ExpectationSuite(
            name=spec.name, expectations=[_tagged(c, i) for i, c in enumerate(configs)]
        )
        result = batch.validate(suite, result_format=_result_format(True), expectation_parameters=parameters)
        for outcome, res in zip(outcomes, _in_suite_order(result.results, len(configs)), strict=True):
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


def _with_session_role(warehouse: WarehouseSession, params: SnowflakeParams) -> SnowflakeParams:
    """``params`` with the role filled in from the open session when none was configured.

    SNOWFLAKE_ROLE is optional (Snowflake then uses the user's default role), but GX's Snowflake
    datasource refuses a connection URL without a role: name the role the session actually got.
    """
    if params.role:
        return params
    role = warehouse.query("SELECT CURRENT_ROLE()")[0][0]
    return dataclasses.replace(params, role=str(role)) if role else params


# --- the gate -----------------------------------------------------------------------------------
def validate_layer(
    warehouse: WarehouseSession,
    specs: list[SuiteSpec],
    schema: str,
    gate: str,
    parameters: dict[str, Any],
    chunk_rows: int = 500_000,
) -> GateResult:
    """Validate every model of ``specs`` in ``schema`` (the audit schema); never raises on failures."""
    started = time.perf_counter()
    models: list[ModelResult] = []
    if warehouse.dialect == "duckdb":
        validator = _PandasValidator()
        for spec in specs:
            models.append(validate_model_duckdb(warehouse, validator, spec, schema, parameters, chunk_rows))
        engine = f"pandas (DuckDB, chunks of {chunk_rows:,} rows)"
    else:
        if not isinstance(warehouse.target, SnowflakeParams):
            raise TypeError("a Snowflake session must carry its SnowflakeParams (open it with open_session)")
        sql_validator = _SnowflakeValidator(_with_session_role(warehouse, warehouse.target), schema)
        for spec in specs:
            models.append(sql_validator.validate_model(spec, parameters))
        engine = "Snowflake SQL datasource"
    result = GateResult(
        gate,
        schema,
        engine,
        models,
        time.perf_counter() - started,
        parameters={k: _short(v) for k, v in parameters.items()},
    )
    logger.info(
        "gate %s on %s: %s (%d models, %d failed expectations, %.1f s)",
        gate,
        schema,
        "passed" if result.success else "FAILED",
        len(models),
        len(result.failures()),
        result.seconds,
    )
    return result


def write_data_docs(result: GateResult, specs: list[SuiteSpec], gx_dir: Path) -> str | None:
    """Store the gate's merged results in a GX file context at ``gx_dir`` and build Data Docs.

    Returns the path of the site's index.html. The file context holds no credentials: it only ever
    sees suites and results (the Snowflake datasource lives in an ephemeral context).
    """
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    run_id = RunIdentifier(run_name=f"{result.gate}-gate", run_time=datetime.now(UTC))
    by_name = {s.name: s for s in specs}
    for model in result.models:
        spec = by_name[model.model]
        suite = spec.build()
        context.suites.add_or_update(suite)
        results = [o.to_gx() for o in model.outcomes]
        successful = sum(1 for r in results if r.success)
        suite_result = ExpectationSuiteValidationResult(
            success=model.success,
            results=results,
            suite_name=spec.name,
            suite_parameters={k: _short(v) for k, v in result.parameters.items()},
            statistics={
                "evaluated_expectations": len(results),
                "successful_expectations": successful,
                "unsuccessful_expectations": len(results) - successful,
                "success_percent": 100 * successful / len(results) if results else 100.0,
            },
            meta={
                "run_id": run_id.to_json_dict(),
                "validation_time": run_id.run_time.isoformat(),
                "active_batch_definition": {
                    "datasource_name": result.engine,
                    "data_asset_name": model.relation,
                    "batch_definition_name": f"{model.rows} rows",
                },
                "batch_spec": {"relation": model.relation},
                "batch_markers": {},
            },
        )
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=spec.name),
            run_id=run_id,
            batch_identifier=model.relation.replace(".", "__"),
        )
        context.validation_results_store.store_validation_results(
            suite_validation_result=suite_result,
            suite_validation_result_identifier=identifier,
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=spec.name),
        )
    context.build_data_docs()
    sites = context.get_docs_sites_urls()
    index = sites[0]["site_url"] if sites else None
    return index.removeprefix("file://") if index else None
