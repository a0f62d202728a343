"""Judging event-store rows the fast path is unsure about, and quarantining the bad ones.

The contract itself decides: :func:`cardflow.contract.validate_envelope`. A row it accepts is
rendered exactly as every other Bronze writer renders it (``dumps_record(Envelope.to_bronze(...))``);
a row it refuses becomes a quarantine entry holding the reason code (``payload_not_object``,
``unknown_event_type``, ``missing_field``, ``source_mismatch``, ...), the detail and the original
row, and never stops the good rows of its partition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cardflow.bronze.layout import part_id
from cardflow.bronze.store import BronzeStore
from cardflow.bronze.writer import WrittenObject, quarantine_entry, write_quarantine
from cardflow.contract import dumps_record, validate_envelope
from cardflow.errors import ContractViolation

ORIGIN = "backfill"


@dataclass(frozen=True)
class Verdict:
    """The outcome for one row: a canonical Bronze line, or a quarantine entry."""

    event_id: str
    line: str | None
    entry: dict[str, Any] | None


def judge_row(raw: Mapping[str, Any], *, ingested_at: datetime) -> Verdict:
    """Validate one raw envelope (``event_id, source, event_type, payload, inserted_at``)."""
    event_id = str(raw.get("event_id"))
    try:
        envelope = validate_envelope(raw)
    except ContractViolation as exc:
        record = {k: raw.get(k) for k in ("event_id", "source", "event_type", "payload", "inserted_at")}
        entry = quarantine_entry(exc.reason, exc.detail, record, origin=ORIGIN, seen_at=ingested_at)
        return Verdict(event_id, None, entry)
    return Verdict(envelope.event_id, dumps_record(envelope.to_bronze(ingested_at)), None)


def judge_line(line: str, *, ingested_at: datetime) -> Verdict:
    """Judge one line rendered by the chunk query (with or without its ``?`` marker)."""
    raw = json.loads(line[1:] if line.startswith("?") else line)
    raw.pop("ingested_at", None)
    return judge_row(raw, ingested_at=ingested_at)


def write_quarantine_object(
    store: BronzeStore, prefix: str, entries: list[dict[str, Any]], *, at: datetime
) -> WrittenObject | None:
    """Write one group's quarantine entries; the key derives from their event ids (re-runs agree).

    Does nothing if there are no entries.
    """
    if not entries:
        return None
    identity = part_id((str(e["record"].get("event_id")) for e in entries), length=64)
    return write_quarantine(store, prefix, ORIGIN, entries, identity=identity, at=at)


def quarantine_time(hour: datetime | None, ingested_at: datetime) -> datetime:
    """The day a quarantine object is filed under: the rows' hour, else the run's time."""
    return hour or ingested_at

