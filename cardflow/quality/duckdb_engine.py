"""The DuckDB engine of the quality gate: GX's pandas datasource over bounded pieces of what changed.

GX has no DuckDB dialect, so rows are read into pandas in bounded pieces. What is validated:

- on an incremental model that stamps ``processed_at`` (Silver), only the rows the latest dbt run
  wrote (``processed_at`` = its newest value): the increment;
- on a model without that stamp (Gold keeps exactly the analysts' columns) whose published version
  is given (``baseline``), only the rows that differ from it (``EXCEPT``): every published row
  passed this gate when it was published, and a row-level rule gives an identical row the same
  verdict, so the rows a build added or changed are what is left to check; without a published
  version (the first build) the whole table;
- row checks (ranges, sets, column pairs) stream those rows in ``chunk_rows`` pieces holding only
  the columns they reference (plus the key, for sample rows), through Arrow, so DECIMAL columns
  arrive as exact ``Decimal`` values (never floats);
- uniqueness and membership in another table are whole-table facts: SQL aggregates and anti-joins
  (:mod:`cardflow.quality.sql_checks`), not rows streamed through pandas (membership on a model
  scoped by its published version covers the whole table: the known set can change under rows
  that did not);
- table aggregates (row count, min/max, column set) run on a frame of the rows' min and max per
  column, and the row count on an empty frame with as many rows (no columns, no memory); on a
  model scoped by its published version both cover the whole table (cheap SQL aggregates), so
  they keep meaning what the suite says.

Per-chunk results are merged per expectation (counts summed, a few unexpected values and rows kept).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from cardflow.quality.results import SAMPLE_ROWS, ExpectationOutcome, ModelResult
from cardflow.quality.sql_checks import check_in_relation, check_unique, relation_parameter
from cardflow.quality.suites import SuiteSpec, describe_expectation
from cardflow.quality.validation import (
    AGGREGATE_TYPES,
    ROWCOUNT_TYPES,
    UNIQUE_TYPES,
    columns_of,
    in_suite_order,
    indexed_config,
    result_format,
    select_list,
    unique_key,
)
from cardflow.warehouse.connection import WarehouseSession

logger = logging.getLogger(__name__)

CHANGED_ROWS = "cardflow_gate_changed_rows"
"""Temporary table (this session only) of a model's rows that differ from its published version."""

INCREMENT_COLUMN = "processed_at"
"""Stamped by each dbt run on the rows it wrote (Silver); its newest value marks the increment."""


class PandasValidator:
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
            name=name, expectations=[indexed_config(c, i) for i, c in enumerate(configs)]
        )
        if len(suite.expectations) != len(configs):  # verified at load time; never silently fewer
            raise RuntimeError(
                f"GX accepted {len(suite.expectations)} of {len(configs)} expectations of {name}"
            )
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        started = time.perf_counter()
        result = batch.validate(
            suite, result_format=result_format(with_rows), expectation_parameters=parameters
        )
        logger.debug(
            "validated %s: %d rows, %d expectations, %.2f s",
            name,
            len(frame),
            len(configs),
            time.perf_counter() - started,
        )
        return in_suite_order(result.results, len(configs))


def stream_frames(warehouse: WarehouseSession, sql: str, chunk_rows: int) -> Iterator[Any]:
    """pandas frames of at most ``chunk_rows`` rows from one streaming scan, through Arrow.

    Arrow turns DECIMAL into Python ``Decimal`` values, so ranges and equalities on money and rates
    are checked exactly (DuckDB's own DataFrame conversion would give float64). That costs more per
    row than floats, which is why only the increment is streamed.
    """
    reader = warehouse.conn.sql(sql).to_arrow_reader(chunk_rows)
    for batch in reader:
        if batch.num_rows:
            yield batch.to_pandas()


def validate_model_duckdb(
    warehouse: WarehouseSession,
    validator: PandasValidator,
    spec: SuiteSpec,
    schema: str,
    parameters: dict[str, Any],
    chunk_rows: int,
    baseline: str | None = None,
) -> ModelResult:
    """Validate one DuckDB table against ``spec`` in bounded chunks (see the module doc).

    ``baseline`` is the schema of the model's published version (the rows a model without
    ``processed_at`` is scoped by); None or a missing/different published relation: whole table.
    """
    relation = f"{schema}.{spec.name}"
    if not warehouse.table_exists(schema, spec.name):
        outcomes = [ExpectationOutcome(spec.name, describe_expectation(c), c) for c in spec.expectations]
        for o in outcomes:
            o.success, o.error = False, f"table {relation} does not exist (did the dbt build run?)"
        return ModelResult(spec.name, relation, 0, outcomes, 0)
    table_columns = warehouse.columns(schema, spec.name)
    whole = f"(SELECT {select_list(spec, None)} FROM {relation}) AS gated"
    changed = _changed_rows(warehouse, spec.name, schema, table_columns, baseline)
    materialized = False
    if INCREMENT_COLUMN in table_columns:
        scoped = f"{relation} WHERE {INCREMENT_COLUMN} >= (SELECT max({INCREMENT_COLUMN}) FROM {relation})"
        source = f"(SELECT {select_list(spec, None)} FROM {scoped}) AS gated"
        table_wide = source  # Silver: row count and aggregates of the increment, as before
    elif changed is not None:
        # the rows that differ are computed once (counted, then streamed): the EXCEPT hashes both
        # whole versions, which is most of the cost of gating a large Gold fact
        warehouse.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED_ROWS} AS {changed}")
        materialized = True
        source = f"(SELECT {select_list(spec, None)} FROM {CHANGED_ROWS}) AS gated"
        table_wide = whole
    else:
        source = table_wide = whole
    try:
        return _validate_scoped(
            warehouse, validator, spec, relation, source, table_wide, table_columns, parameters, chunk_rows
        )
    finally:
        if materialized:
            warehouse.execute(f"DROP TABLE IF EXISTS {CHANGED_ROWS}")


def _validate_scoped(
    warehouse: WarehouseSession,
    validator: PandasValidator,
    spec: SuiteSpec,
    relation: str,
    source: str,
    table_wide: str,
    table_columns: list[str],
    parameters: dict[str, Any],
    chunk_rows: int,
) -> ModelResult:
    """Validate ``spec`` with row checks on ``source`` and table-wide checks on ``table_wide``."""
    import pandas as pd

    available = set(table_columns) | set(spec.derived_columns)
    configs = spec.expectations
    outcomes = [ExpectationOutcome(spec.name, describe_expectation(c), c) for c in configs]
    rows = int(warehouse.query(f"SELECT count(*) FROM {source}")[0][0])
    table_rows = rows if table_wide is source else int(warehouse.query(f"SELECT count(*) FROM {table_wide}")[0][0])

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
    for i, config in enumerate(configs):
        missing = [c for c in columns_of(config) if c not in available]
        if missing and config["type"] not in AGGREGATE_TYPES:
            outcomes[i].success, outcomes[i].error = (
                False,
                f"column(s) {', '.join(missing)} missing in {relation}",
            )
            continue
        membership = relation_parameter(config, parameters)
        if membership is not None:
            check_in_relation(warehouse, outcomes[i], table_wide, config["kwargs"]["column"], *membership)
        elif config["type"] in UNIQUE_TYPES:
            check_unique(warehouse, outcomes[i], relation, unique_key(config))
        elif config["type"] in ROWCOUNT_TYPES:
            groups["rowcount"].append(i)
        elif config["type"] in AGGREGATE_TYPES:
            groups["aggregate"].append(i)
        else:
            groups["rows"].append(i)

    chunks = 1
    if groups["rowcount"]:
        run(groups["rowcount"], pd.DataFrame(index=pd.RangeIndex(table_rows)), "rowcount")
    if groups["aggregate"]:
        names = [*table_columns, *spec.derived_columns]
        agg = ", ".join(f"{fn}({c}) AS {c}" for c in names for fn in ("min",))
        agg_max = ", ".join(f"max({c}) AS {c}" for c in names)
        frame = warehouse.query_df(f"SELECT {agg} FROM {table_wide} UNION ALL SELECT {agg_max} FROM {table_wide}")
        if table_rows == 0:
            frame = frame.iloc[0:0]
        run(groups["aggregate"], frame, "aggregate")
    if groups["rows"]:
        needed = list(
            dict.fromkeys([*spec.chunk_key, *(c for i in groups["rows"] for c in columns_of(configs[i]))])
        )
        needed = [c for c in needed if c in available]
        count = 0
        for frame in stream_frames(warehouse, f"SELECT {', '.join(needed)} FROM {source}", chunk_rows):
            run(groups["rows"], frame, "rows")
            count += 1
        chunks = max(chunks, count)
    for o in outcomes:
        o.finish()
    return ModelResult(spec.name, relation, rows, outcomes, chunks)


def _changed_rows(
    warehouse: WarehouseSession, model: str, schema: str, columns: list[str], baseline: str | None
) -> str | None:
    """SQL of the rows of ``schema.model`` that its published version in ``baseline`` lacks, or
    None (validate the whole table) when there is no published version with the same columns."""
    if baseline is None or baseline.upper() == schema.upper() or not warehouse.table_exists(baseline, model):
        return None
    if warehouse.columns(baseline, model) != columns:
        return None
    listed = ", ".join(columns)
    return f"SELECT {listed} FROM {schema}.{model} EXCEPT SELECT {listed} FROM {baseline}.{model}"
