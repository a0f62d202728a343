"""The DuckDB engine of the quality gate: GX's pandas datasource over bounded pieces of each table.

GX has no DuckDB dialect, so tables are read into pandas in bounded pieces. Each suite is split into
passes so that every verdict is exact for the whole table while memory stays at one chunk:

- row checks (not null, ranges, sets, column pairs) stream the table in ``chunk_rows`` pieces holding
  only the columns they reference (plus the key, for sample rows);
- each uniqueness check reads only its key columns, partitioned by ``hash(key) % k`` so that all copies
  of a key land in the same piece (a duplicate can never straddle two pieces);
- table aggregates (row count, min/max, column set) run on a frame of the table's min and max per
  column, and the row count on an empty frame with as many rows as the table (no columns, no memory).

Per-chunk results are merged per expectation (counts summed, a few unexpected values and rows kept).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import Any

from cardflow.quality.results import SAMPLE_ROWS, ExpectationOutcome, ModelResult
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
    validator: PandasValidator,
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
    source = f"(SELECT {select_list(spec, None)} FROM {relation}) AS gated"

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
        missing = [c for c in columns_of(config) if c not in available]
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
            unique_groups.setdefault(unique_key(config), []).append(i)
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
            dict.fromkeys([*spec.chunk_key, *(c for i in groups["rows"] for c in columns_of(configs[i]))])
        )
        needed = [c for c in needed if c in available]
        count = 0
        for frame in stream_frames(warehouse, f"SELECT {', '.join(needed)} FROM {source}", chunk_rows):
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
