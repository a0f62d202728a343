"""Great Expectations suites: one JSON file per gated dbt model under ``expectations/``.

Each file is a GX 1.x suite (``name``, ``expectations`` of ``{"type", "kwargs", "meta"}``) plus
``meta.cardflow``: the layer it gates (silver or gold), ``chunk_key`` (the columns that identify a
row; DuckDB validation chunks on them) and optional ``derived_columns`` (name -> SQL expression
valid on DuckDB and Snowflake, computed next to the table's columns so a row-level expectation can
compare, e.g., ``order_total`` with ``quantity * unit_price``).

GX 1.24 builds a suite from dicts and silently drops an expectation whose type it does not know
(one log line). :func:`load_suite` therefore builds every expectation on its own first and fails
with the names of those GX refused, then checks that the suite holds exactly as many as the file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from cardflow.errors import SuiteDefinitionError

logger = logging.getLogger(__name__)

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
Layer = Literal["silver", "gold"]


@dataclass(frozen=True)
class SuiteSpec:
    """A verified suite file: its GX suite dict plus cardflow's gate metadata."""

    name: str
    layer: Layer
    path: Path
    document: dict[str, Any]
    chunk_key: tuple[str, ...]
    derived_columns: dict[str, str] = field(default_factory=dict)

    @property
    def expectations(self) -> list[dict[str, Any]]:
        return list(self.document["expectations"])

    def build(self) -> Any:
        """A fresh ``gx.ExpectationSuite`` (verified again: a count mismatch raises)."""
        return _build_suite(self.path, self.document)


def describe_expectation(config: dict[str, Any]) -> str:
    """Short human name of an expectation: ``type(column)`` / ``type(a, b)``."""
    kwargs = config.get("kwargs", {})
    cols = (
        kwargs.get("column")
        or kwargs.get("column_list")
        or [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    )
    if isinstance(cols, str):
        cols = [cols]
    return f"{config.get('type')}({', '.join(cols)})" if cols else str(config.get("type"))


def _build_suite(path: Path, document: dict[str, Any]) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    problems = []
    for i, config in enumerate(document.get("expectations", [])):
        name = describe_expectation(config) if isinstance(config, dict) else repr(config)
        label = f"#{i} {name}"
        if not isinstance(config, dict) or "type" not in config:
            problems.append(f"{label}: not an object with a 'type'")
            continue
        try:
            ExpectationConfiguration(**config).to_domain_obj()
        except Exception as exc:  # GX raises several unrelated types for bad configs
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{label}: {first_line}")
    if problems:
        raise SuiteDefinitionError(str(path), problems)
    suite = gx.ExpectationSuite(
        name=document["name"],
        expectations=document["expectations"],
        meta=document.get("meta"),
        notes=document.get("notes"),
    )
    expected = len(document["expectations"])
    if len(suite.expectations) != expected:
        accepted = {describe_expectation(e.configuration.to_json_dict()) for e in suite.expectations}
        dropped = [
            describe_expectation(c)
            for c in document["expectations"]
            if describe_expectation(c) not in accepted
        ]
        raise SuiteDefinitionError(
            str(path), [f"GX kept {len(suite.expectations)} of {expected}; dropped: {', '.join(dropped)}"]
        )
    return suite


def _unsafe_names(document: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """Column names that would reach SQL unquoted (the engines select them) but are not plain
    identifiers; derived columns' *names* count too (their expressions are SQL by design)."""
    from cardflow.errors import UnsafeSqlText
    from cardflow.warehouse.base import plain_identifier

    names = list(meta.get("chunk_key") or []) + list((meta.get("derived_columns") or {}).keys())
    for config in document.get("expectations") or []:
        if isinstance(config, dict):
            kwargs = config.get("kwargs") or {}
            names += [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
            names += [c for c in kwargs.get("column_list") or [] if isinstance(c, str)]
    problems = []
    for name in dict.fromkeys(names):
        try:
            plain_identifier(name)
        except UnsafeSqlText:
            problems.append(f"column {name!r} is not a plain SQL identifier (letters, digits, _ and $)")
    return problems


def load_suite_file(path: Path) -> SuiteSpec:
    """Read and verify one suite file.

    Raises:
        SuiteDefinitionError: unreadable JSON, missing ``meta.cardflow``, or rejected expectations.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteDefinitionError(str(path), [f"cannot read suite: {exc}"]) from exc
    meta = (document.get("meta") or {}).get("cardflow") or {}
    problems = []
    if document.get("name") != path.stem:
        problems.append(
            f"name {document.get('name')!r} must equal the file name {path.stem!r} (the model it gates)"
        )
    if meta.get("layer") not in ("silver", "gold"):
        problems.append("meta.cardflow.layer must be 'silver' or 'gold'")
    if not meta.get("chunk_key"):
        problems.append("meta.cardflow.chunk_key must list the columns identifying a row")
    if not document.get("expectations"):
        problems.append("the suite has no expectations")
    problems += _unsafe_names(document, meta)
    if problems:
        raise SuiteDefinitionError(str(path), problems)
    _build_suite(path, document)
    logger.debug("suite %s verified: %d expectations", path.stem, len(document["expectations"]))
    return SuiteSpec(
        name=document["name"],
        layer=meta["layer"],
        path=path,
        document=document,
        chunk_key=tuple(meta["chunk_key"]),
        derived_columns=dict(meta.get("derived_columns") or {}),
    )


@cache
def load_suites(directory: Path = EXPECTATIONS_DIR) -> dict[str, SuiteSpec]:
    """Every suite under ``directory``, verified, by model name."""
    specs = [load_suite_file(p) for p in sorted(directory.glob("*.json"))]
    return {s.name: s for s in specs}


def suites_for(layer: Layer, directory: Path = EXPECTATIONS_DIR) -> list[SuiteSpec]:
    """The suites gating ``layer``, in file-name order."""
    return [s for s in load_suites(directory).values() if s.layer == layer]
