"""Quality warnings of one transform run, gathered so that a person hears about them once.

A warning is anything that let the run continue and publish but that someone should look at:

* a RAW.EVENTS freshness or volume check at ``warn`` (:mod:`cardflow.quality.raw_checks`);
* a dbt test (or source freshness) at warn severity, e.g. ``assert_no_oversold_skus``;
* a Great Expectations expectation that passed only because of its ``mostly`` (some rows were
  unexpected, fewer than the threshold allows);
* a reconciliation gap between the event store and RAW (:mod:`cardflow.quality.reconcile`).

The transform flow collects them over the whole run and alerts ONCE (one Slack post, one
``cardflow.quality_warning`` event), then records "passed with warnings" with the list. One post per
test would teach people to mute the channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cardflow.quality.raw_checks import RawChecksReport
from cardflow.quality.reconcile import ReconciliationReport
from cardflow.quality.results import GateResult

WarningSource = Literal["raw_events", "dbt", "gx", "reconciliation"]
PASSED: Final = "passed"
PASSED_WITH_WARNINGS: Final = "passed with warnings"
FAILED: Final = "failed"
#: at most this many warnings are spelled out in one alert (the artifact and the record hold all)
ALERT_LINES: Final = 10


@dataclass(frozen=True)
class QualityWarning:
    """One warning: where it comes from, the check's name and what was observed."""

    source: WarningSource
    check: str
    detail: str

    def line(self) -> str:
        return f"{self.source} {self.check}: {self.detail}" if self.detail else f"{self.source} {self.check}"


def raw_check_warnings(report: RawChecksReport) -> list[QualityWarning]:
    """The RAW.EVENTS checks that ended at ``warn``."""
    return [QualityWarning("raw_events", o.check, o.message) for o in report.outcomes if o.status == "warn"]


def dbt_warnings(layer: str, described: list[str]) -> list[QualityWarning]:
    """dbt nodes that ended at ``warn`` in ``layer``'s build (``NodeOutcome.describe()`` lines).

    ``"test assert_no_oversold_skus: warn (337 failing rows)"`` becomes check
    ``silver|gold/assert_no_oversold_skus`` with the rest as detail.
    """
    found = []
    for text in described:
        head, _, rest = text.partition(": ")
        name = head.split(" ", 1)[-1]
        found.append(QualityWarning("dbt", f"{layer}/{name}", rest))
    return found


def gate_warnings(result: GateResult) -> list[QualityWarning]:
    """Expectations of ``result`` that passed with unexpected rows (allowed by their ``mostly``)."""
    found = []
    for model in result.models:
        for outcome in model.outcomes:
            if outcome.success and outcome.counted and outcome.unexpected_count > 0:
                mostly = (outcome.config.get("kwargs") or {}).get("mostly")
                found.append(
                    QualityWarning(
                        "gx",
                        f"{result.gate}/{model.model}/{outcome.name}",
                        f"{outcome.unexpected_count:,} of {outcome.element_count:,} rows unexpected "
                        f"(allowed by mostly={mostly})",
                    )
                )
    return found


def reconciliation_warnings(report: ReconciliationReport) -> list[QualityWarning]:
    """One warning when RAW lacks events the event store holds (none when it does not)."""
    if not report.gaps:
        return []
    remedy = "repair with an explicit backfill range (`cardflow backfill --start ... --end ...`) and a load"
    return [QualityWarning("reconciliation", "event_store_vs_raw", f"{report.summary()}; {remedy}")]


def verdict(warnings: Sequence[object]) -> str:
    """``passed`` or ``passed with warnings`` for a run whose gates all passed (any warning counts)."""
    return PASSED_WITH_WARNINGS if warnings else PASSED


def alert_summary(warnings: list[QualityWarning]) -> str:
    """One alert's text for all of a run's warnings: a count, then one line per warning (capped)."""
    lines = [w.line() for w in warnings[:ALERT_LINES]]
    more = len(warnings) - len(lines)
    tail = [f"... and {more} more (see the run's dbt-transform artifact)"] if more > 0 else []
    noun = "warning" if len(warnings) == 1 else "warnings"
    return f"{len(warnings)} quality {noun}; the run published:\n" + "\n".join(f"- {x}" for x in [*lines, *tail])
