"""What a quality gate found: one outcome per expectation, merged over chunks, per model and per gate.

Both validation engines (:mod:`cardflow.quality.duckdb_engine`, :mod:`cardflow.quality.snowflake_engine`)
fold GX's per-batch results into these shapes, so the artifact, the alert and Data Docs read the same
result whichever warehouse ran the gate.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from cardflow.errors import QualityGateFailed

SAMPLE_ROWS = 5
PARTIAL_VALUES = 10


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
            values = ", ".join(shorten(v) for v in self.partial_unexpected[:3])
            more = f" (e.g. {values})" if values else ""
            counts = f"{self.unexpected_count} of {self.element_count} rows unexpected"
            return f"{self.model}: {self.name}: {counts}{more}"
        return f"{self.model}: {self.name}: observed {shorten(self.observed_value)}"

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
                "partial_unexpected_list": [shorten(v) for v in self.partial_unexpected],
            }
        elif self.observed_value is not None:
            result = {"observed_value": shorten(self.observed_value)}
        exception_info = {
            "raised_exception": bool(self.error),
            "exception_message": self.error,
            "exception_traceback": None,
        }
        return ExpectationValidationResult(
            success=self.success,
            expectation_config=ExpectationConfiguration(**gx_config(self.config)),
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

    def raise_if_failed(self) -> None:
        """Does nothing if the gate passed.

        Raises:
            QualityGateFailed: gate = the layer, failures = one line per failed expectation.
        """
        if not self.success:
            raise QualityGateFailed(self.gate, self.failures())

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
                        lines.append(f"Observed values: {', '.join(shorten(v) for v in o.partial_unexpected)}")
                else:
                    lines.append(f"Observed: {shorten(o.observed_value)}")
                if o.sample_rows:
                    lines += ["", _markdown_table(o.sample_rows)]
        if self.docs_index:
            lines += ["", f"Data Docs: [open the site]({self.docs_index})"]  # a URL (S3) or file:// path
        return "\n".join(lines) + "\n"


# --- helpers ------------------------------------------------------------------------------------
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


def shorten(value: Any, limit: int = 80) -> str:
    """``value`` as text of at most ``limit`` characters (artifact and Data Docs cells stay readable)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    body = ["| " + " | ".join(shorten(r.get(c), 40).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return head + "\n" + "\n".join(body)


def gx_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config without cardflow-only keys (GX rejects unknown top-level keys)."""
    return {k: copy.deepcopy(v) for k, v in config.items() if k in ("type", "kwargs", "meta")}
