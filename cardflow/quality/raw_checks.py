"""Freshness and volume anomaly checks on RAW.EVENTS, run at the start of every transform.

* Freshness: hours between now and the newest event's ``inserted_at`` (when the source recorded
  it). Above RAW_EVENTS_FRESHNESS_WARN_HOURS -> warn, above RAW_EVENTS_FRESHNESS_ERROR_HOURS -> error.
  ``inserted_at`` catches both a silent upstream and a stalled ingestion. The flow passes the value
  ``dbt source freshness`` measured (:mod:`cardflow.transform.freshness`), so dbt owns the check.
* Volume: distinct events in the last 24 hours of data (counted back from the newest event, so the
  check is independent of freshness) against the mean of the VOLUME_ANOMALY_LOOKBACK_DAYS 24-hour
  windows before it that the data fully covers. A drop of at least VOLUME_ANOMALY_PCT percent ->
  error (missing data would reach Gold); a drop of at least half of that, or a rise of at least
  VOLUME_ANOMALY_PCT percent (e.g. a re-delivery storm) -> warn. Too little history -> skipped.

The SQL lives in ``sql/quality_raw_metrics.sql``; the ad-hoc equivalents for an analyst are in
``sql/data_quality_checks.sql``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cardflow.errors import QualityGateFailed
from cardflow.settings import Settings
from cardflow.sqlfiles import named_statements
from cardflow.warehouse.connection import WarehouseSession

logger = logging.getLogger(__name__)
Status = Literal["ok", "warn", "error", "skipped"]
_RANK: dict[str, int] = {"ok": 0, "skipped": 0, "warn": 1, "error": 2}


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict with the numbers behind it."""

    check: str
    status: Status
    message: str
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RawChecksReport:
    """All RAW checks of one run; ``status`` is the worst outcome."""

    outcomes: list[CheckOutcome]
    checked_at: datetime

    @property
    def status(self) -> Status:
        worst = max(self.outcomes, key=lambda o: _RANK[o.status], default=None)
        return worst.status if worst and _RANK[worst.status] else "ok"

    def failures(self, level: Status) -> list[str]:
        return [f"{o.check}: {o.message}" for o in self.outcomes if o.status == level]

    def raise_on_errors(self) -> None:
        """Does nothing unless a check is at error level (warnings only alert, they never stop a run).

        Raises:
            QualityGateFailed: gate ``raw_events`` with each error-level check, before anything is built.
        """
        if self.status == "error":
            raise QualityGateFailed("raw_events", self.failures("error"))

    def to_markdown(self) -> str:
        lines = [
            f"# RAW.EVENTS checks: {self.status.upper()}",
            "",
            f"Checked at {self.checked_at.isoformat(timespec='seconds')}.",
            "",
            "| check | status | message |",
            "|---|---|---|",
        ]
        lines += [f"| {o.check} | {o.status} | {o.message} |" for o in self.outcomes]
        for o in self.outcomes:
            if o.observed:
                lines += ["", f"**{o.check}** observed:", ""]
                lines += [f"- {k}: {v}" for k, v in o.observed.items()]
        return "\n".join(lines) + "\n"


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_freshness(newest: datetime | None, now: datetime, settings: Settings) -> CheckOutcome:
    """Freshness verdict for the newest ``inserted_at`` (None = no events at all)."""
    warn_h, error_h = settings.raw_events_freshness_warn_hours, settings.raw_events_freshness_error_hours
    if newest is None:
        return CheckOutcome(
            "freshness",
            "error",
            "RAW.EVENTS is empty: no event was loaded. Either nothing has landed yet (run the load "
            "flow after a backfill or real-time batch) or every event that landed was quarantined at "
            "the contract (`cardflow quarantine list` shows them with their reasons)",
        )
    age_h = (now - newest).total_seconds() / 3600
    observed = {
        "newest_inserted_at": newest.isoformat(),
        "age_hours": round(age_h, 2),
        "warn_hours": warn_h,
        "error_hours": error_h,
    }
    if age_h > error_h:
        return CheckOutcome(
            "freshness",
            "error",
            f"stale data: newest event is {age_h:.1f} h old (RAW_EVENTS_FRESHNESS_ERROR_HOURS={error_h:g})",
            observed,
        )
    if age_h > warn_h:
        return CheckOutcome(
            "freshness",
            "warn",
            f"newest event is {age_h:.1f} h old (RAW_EVENTS_FRESHNESS_WARN_HOURS={warn_h:g})",
            observed,
        )
    return CheckOutcome("freshness", "ok", f"newest event is {age_h:.1f} h old", observed)


def check_volume(
    windows: dict[int, int], newest: datetime | None, oldest: datetime | None, settings: Settings
) -> CheckOutcome:
    """Volume verdict from distinct events per 24-hour window back from the newest event."""
    pct, lookback = settings.volume_anomaly_pct, settings.volume_anomaly_lookback_days
    if newest is None or oldest is None:
        return CheckOutcome("volume", "skipped", "no events")
    covered = [k for k in range(1, lookback + 1) if newest - timedelta(days=k + 1) >= oldest]
    current = windows.get(0, 0)
    if not covered:
        return CheckOutcome(
            "volume",
            "skipped",
            f"less than 2 days of history; last 24 h hold {current} events",
            {"last_24h": current},
        )
    baseline = sum(windows.get(k, 0) for k in covered) / len(covered)
    change = (current / baseline - 1) * 100 if baseline else 0.0
    observed = {
        "last_24h": current,
        "baseline_per_day": round(baseline, 1),
        "baseline_days": len(covered),
        "change_pct": round(change, 1),
        "threshold_pct": pct,
    }
    if baseline and -change >= pct:
        return CheckOutcome(
            "volume",
            "error",
            f"volume drop: {current} events in the last 24 h vs "
            f"{baseline:.0f}/day before ({change:.0f}%, VOLUME_ANOMALY_PCT={pct:g})",
            observed,
        )
    if baseline and (-change >= pct / 2 or change >= pct):
        return CheckOutcome(
            "volume",
            "warn",
            f"volume {change:+.0f}% vs the {len(covered)}-day mean ({current} vs {baseline:.0f}/day)",
            observed,
        )
    return CheckOutcome(
        "volume", "ok", f"{current} events in the last 24 h ({change:+.0f}% vs {baseline:.0f}/day)", observed
    )


def run_raw_checks(
    warehouse: WarehouseSession,
    settings: Settings,
    now: datetime | None = None,
    *,
    newest_event_at: datetime | Literal["query"] | None = "query",
) -> RawChecksReport:
    """Run freshness and volume on RAW.EVENTS of ``warehouse``; never raises on a bad verdict.

    ``newest_event_at``: the newest ``inserted_at`` as ``dbt source freshness`` measured it (None:
    RAW is empty); ``"query"`` (tests, ad-hoc runs) takes it from this module's own query.
    """
    now = now or datetime.now(UTC)
    statements = named_statements("quality_raw_metrics.sql", __file__)
    raw = settings.snowflake_raw_schema
    newest_raw, _loaded, oldest_raw, rows = warehouse.query(statements["freshness"].format(raw=raw))[0]
    newest, oldest = _as_utc(newest_raw), _as_utc(oldest_raw)
    measured = newest if newest_event_at == "query" else newest_event_at
    outcomes = [check_freshness(measured, now, settings)]
    windows: dict[int, int] = {}
    if newest is not None:
        sql = statements["volume_windows"].format(
            raw=raw, lookback_plus_one=int(settings.volume_anomaly_lookback_days) + 1
        )
        windows = {int(k): int(n) for k, n in warehouse.query(sql)}
    outcomes.append(check_volume(windows, newest, oldest, settings))
    report = RawChecksReport(outcomes, now)
    logger.info(
        "RAW.EVENTS checks: %s (rows=%s, %s)",
        report.status,
        rows,
        ", ".join(f"{o.check}={o.status}" for o in outcomes),
    )
    return report
