"""Data Docs: a gate's merged results stored in a GX file context and rendered as a static site.

The site lives under ``<CARDFLOW_DATA_DIR>/gx``. The file context holds no credentials: it only ever
sees suites and results (the Snowflake datasource lives in an ephemeral context).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from cardflow.quality.results import GateResult, shorten
from cardflow.quality.suites import SuiteSpec

logger = logging.getLogger(__name__)


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
            suite_parameters={k: shorten(v) for k, v in result.parameters.items()},
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


def attach_data_docs(result: GateResult, specs: list[SuiteSpec], gx_dir: Path) -> None:
    """Write Data Docs for ``result`` and record the site's index on it.

    Docs are a report: a rendering problem is logged and leaves ``docs_index`` unset, it never decides
    the gate.
    """
    try:
        result.docs_index = write_data_docs(result, specs, gx_dir)
    except Exception as exc:  # any GX rendering failure: docs must not decide the gate
        logger.warning("Data Docs for the %s gate not written: %s", result.gate, exc)
