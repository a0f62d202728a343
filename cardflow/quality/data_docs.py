"""Data Docs: a gate's merged results, rendered by its Checkpoint's UpdateDataDocsAction as a static site.

The site lives under ``<CARDFLOW_DATA_DIR>/gx``. The file context holds no credentials: it only ever
sees suites and results (the Snowflake datasource lives in an ephemeral context).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardflow.quality.results import GateResult, shorten
from cardflow.quality.suites import SuiteSpec

logger = logging.getLogger(__name__)


REGISTRATIONS_FILE = "cardflow_registrations.json"
"""In the GX project root: per gate, the fingerprint of the suites its Checkpoint was last registered
with (see :func:`ensure_layer_checkpoint`)."""

_contexts: dict[Path, tuple[int, Any]] = {}
_contexts_lock = threading.Lock()


def checkpoint_name(gate: str) -> str:
    return f"cardflow_{gate}_gate"


def layer_checkpoint(context: Any, gate: str, specs: list[SuiteSpec]) -> Any:
    """The gate's Checkpoint in the GX project: one Suite and one ValidationDefinition per model, and
    an UpdateDataDocsAction. Created or updated through GX's public API (idempotent).

    The data side is a pandas dataframe asset per model, the shape the DuckDB engine validates in;
    on Snowflake the SQL datasource lives in an ephemeral context (credentials never reach this
    file project), so the definitions here describe the validation and drive the docs.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    source = context.data_sources.add_or_update_pandas(f"cardflow_{gate}")
    definitions = []
    for spec in specs:
        suite = context.suites.add_or_update(spec.build())
        try:
            asset = source.get_asset(spec.name)
        except LookupError:
            asset = source.add_dataframe_asset(spec.name)
        try:
            batch = asset.get_batch_definition("audit table")
        except (KeyError, LookupError):
            batch = asset.add_batch_definition_whole_dataframe("audit table")
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=f"{gate}.{spec.name}", data=batch, suite=suite)
            )
        )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=checkpoint_name(gate),
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="update_data_docs")],
        )
    )


def _registration_fingerprint(gate: str, specs: list[SuiteSpec]) -> str:
    import great_expectations as gx

    document = {"gate": gate, "gx": gx.__version__, "suites": [s.document for s in specs]}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def ensure_layer_checkpoint(context: Any, gate: str, specs: list[SuiteSpec]) -> str:
    """The gate's Checkpoint name, registered by :func:`layer_checkpoint` only when it is missing or
    its suites changed since it was last registered.

    Why: registering rewrites every suite, validation definition and the Checkpoint as YAML/JSON
    through GX's stores (measured ~0.3 s per gate, about a third of the docs' cost) though they only
    change with the suite files or GX's version, which the fingerprint covers.
    """
    root = Path(context.root_directory)
    record_path = root / REGISTRATIONS_FILE
    try:
        records = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        records = {}
    fingerprint = _registration_fingerprint(gate, specs)
    stored = [root / "checkpoints" / f"{checkpoint_name(gate)}.json"]
    stored += [root / "validation_definitions" / f"{gate}.{s.name}.json" for s in specs]
    stored += [root / "expectations" / f"{s.name}.json" for s in specs]
    if records.get(gate) == fingerprint and all(p.is_file() for p in stored):
        return checkpoint_name(gate)
    name = str(layer_checkpoint(context, gate, specs).name)
    records[gate] = fingerprint
    partial = record_path.with_suffix(".partial")
    partial.write_text(json.dumps(records, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(partial, record_path)
    return name


def project_context(gx_dir: Path) -> Any:
    """The GX file project at ``gx_dir``, opened once per process and reused while its
    ``great_expectations.yml`` is unchanged (opening it parses and validates that YAML each time).

    Callers hold :data:`_contexts_lock`: a GX context is not meant for concurrent use.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    key = gx_dir.resolve()
    stamp = _config_stamp(key)
    cached = _contexts.get(key)
    if cached is not None and cached[0] == stamp and stamp != -1:
        return cached[1]
    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    _contexts[key] = (_config_stamp(key), context)
    return context


def _config_stamp(project: Path) -> int:
    """The project's ``great_expectations.yml`` modification time (-1: no project yet)."""
    config = project / "gx" / "great_expectations.yml"
    return config.stat().st_mtime_ns if config.is_file() else -1


DEFAULT_INDEX_LIMIT = 100
"""Validation results the Data Docs index lists (the newest ones); older pages stay on disk."""


def bound_site_index(context: Any, limit: int) -> None:
    """Make every Data Docs site's index list only the newest ``limit`` validation results.

    Why: GX's index builder loads every stored validation result to draw its list, so with no limit
    each gate's docs cost grows with every run ever gated (measured: 2.8 s for 2,200 stored results
    against 1.6 s with the newest 50; a year of hourly runs stores some 40,000). The results stay in
    the store (the audit trail) and their pages stay on disk; only the index is bounded. Written to
    the project's ``great_expectations.yml`` only when it differs.
    """
    sites = context.variables.data_docs_sites or {}
    changed = False
    for config in sites.values():
        index = config.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        if index.get("validation_results_limit") != limit:
            index["validation_results_limit"] = limit
            changed = True
    if changed:
        context.variables.data_docs_sites = sites
        context.variables.save()


def write_data_docs(
    result: GateResult, specs: list[SuiteSpec], gx_dir: Path, *, index_limit: int = DEFAULT_INDEX_LIMIT
) -> str | None:
    """Store the gate's merged results under its Checkpoint's run and build Data Docs for them in
    the GX file project at ``gx_dir`` (the Checkpoint's UpdateDataDocsAction's work, done once for
    all models of the gate); the index lists the newest ``index_limit`` results.

    The engines validate (in bounded pieces on DuckDB, in the warehouse on Snowflake) and merge the
    pieces per model; the merged result per model is what the docs show.

    Returns:
        The path of the site's index.html (None if GX reports no site).
    """
    with _contexts_lock:
        try:
            return _write_data_docs(result, specs, gx_dir, index_limit)
        finally:
            _remember_own_writes(gx_dir)


def _remember_own_writes(gx_dir: Path) -> None:
    """After writing through the cached context (registrations, the index bound), its
    ``great_expectations.yml`` is what the context holds: keep reusing it."""
    key = gx_dir.resolve()
    if key in _contexts:
        _contexts[key] = (_config_stamp(key), _contexts[key][1])


def _write_data_docs(result: GateResult, specs: list[SuiteSpec], gx_dir: Path, index_limit: int) -> str | None:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = project_context(gx_dir)
    bound_site_index(context, index_limit)
    by_name = {s.name: s for s in specs}
    checkpoint = ensure_layer_checkpoint(context, result.gate, [by_name[m.model] for m in result.models])
    run_id = RunIdentifier(run_name=f"{result.gate}-gate", run_time=datetime.now(UTC))
    run_results = {}
    for model in result.models:
        spec = by_name[model.model]
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
                "checkpoint_name": checkpoint,
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
        run_results[identifier] = suite_result
    if not run_results:
        return None
    # What the Checkpoint's UpdateDataDocsAction does, in one build instead of one per model: the
    # action rebuilds the site index (which lists every stored result) once per validation result
    context.build_data_docs(
        resource_identifiers=[
            resource
            for identifier, suite_result in run_results.items()
            for resource in (identifier, ExpectationSuiteIdentifier(name=suite_result.suite_name))
        ],
        build_index=True,
    )
    sites = context.get_docs_sites_urls()
    index = sites[0]["site_url"] if sites else None
    return index.removeprefix("file://") if index else None


def attach_data_docs(
    result: GateResult, specs: list[SuiteSpec], gx_dir: Path, *, index_limit: int = DEFAULT_INDEX_LIMIT
) -> None:
    """Write Data Docs for ``result`` and record the site's index on it.

    Docs are a report: a rendering problem is logged and leaves ``docs_index`` unset, it never decides
    the gate.
    """
    try:
        result.docs_index = write_data_docs(result, specs, gx_dir, index_limit=index_limit)
    except Exception as exc:  # any GX rendering failure: docs must not decide the gate
        logger.warning("Data Docs for the %s gate not written: %s", result.gate, exc)
