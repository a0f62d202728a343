"""Prefect side of real-time landing: the ``cardflow.mq.batch.landed`` event, the task that reads a
landed batch back from Bronze, and the artifact that shows it.

The event is the contract between the receiver that lands a batch (``cardflow webhook``) and the
``mq_realtime_landing`` deployment that records it: it names the batch and its manifest in Bronze
and carries counts, never message bodies (they may hold personal data, and a batch of up to 10,000
messages would not fit an event or a flow-run parameter anyway).
"""

from __future__ import annotations

from typing import Any, Final

from prefect import task
from prefect.cache_policies import NONE
from prefect.events import Event, emit_event

from cardflow.bronze.store import BronzeStore
from cardflow.retry import retry_transient
from cardflow.sources.mq.landing import BatchLanding, read_batch_landing

#: emitted after a batch's objects and manifest are durably in Bronze; prefect.yaml triggers on it
BATCH_LANDED_EVENT: Final = "cardflow.mq.batch.landed"
#: resource ids of landed batches start with this (the deployment trigger matches ``<prefix>*``)
BATCH_RESOURCE_PREFIX: Final = "cardflow.mq.batch."
#: the counts the event carries, besides batch id and manifest key (no message content)
_EVENT_COUNTS: Final = ("messages", "landed", "duplicates", "quarantined", "objects", "quarantine_objects")


@task(
    name="read-landed-mq-batch",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=retry_transient,
    cache_policy=NONE,
)
def read_batch_landing_task(store: BronzeStore, manifest_key: str, batch_id: str | None = None) -> BatchLanding:
    """Prefect task around :func:`read_batch_landing`: what the batch's manifest says landed."""
    return read_batch_landing(store, manifest_key, batch_id=batch_id)


def batch_landed_payload(landing: BatchLanding) -> dict[str, Any]:
    """The event payload: batch id, manifest key, ingested_at, counts and quarantine reason counts."""
    counts = landing.counts()
    return {
        "batch_id": landing.batch_id,
        "manifest_key": landing.manifest_key,
        "ingested_at": landing.ingested_at,
        **{name: counts[name] for name in _EVENT_COUNTS},
        "reasons": dict(landing.reasons),
    }


def emit_batch_landed(landing: BatchLanding) -> Event | None:
    """Emit ``cardflow.mq.batch.landed`` for a batch that is durably in Bronze.

    Does nothing (returns None) for an empty batch, which wrote no manifest. Returns None as well
    when Prefect has no events client configured; delivery is asynchronous (Prefect's events worker),
    so the caller does not wait for the API.
    """
    if not landing.manifest_key:
        return None
    return emit_event(
        BATCH_LANDED_EVENT,
        resource={
            "prefect.resource.id": f"{BATCH_RESOURCE_PREFIX}{landing.batch_id}",
            "prefect.resource.name": f"MQ batch {landing.batch_id}",
        },
        payload=batch_landed_payload(landing),
    )


def landing_markdown(landing: BatchLanding) -> str:
    """The artifact: counts, quarantine reasons and the objects the manifest lists."""
    lines = [
        f"### MQ batch `{landing.batch_id}`",
        "",
        f"Manifest `{landing.manifest_key}`, ingested_at {landing.ingested_at} ({landing.ingested_at_source}).",
        "",
        "| messages | landed | duplicates | quarantined |",
        "|---:|---:|---:|---:|",
        f"| {landing.messages} | {landing.landed} | {landing.duplicates} | {landing.quarantined} |",
    ]
    if landing.reasons:
        lines += ["", "| quarantine reason | messages |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in landing.reasons.items()]
    lines += ["", "| object | kind | rows | bytes | sha256 |", "|---|---|---:|---:|---|"]
    for kind, objects in (("part", landing.objects), ("quarantine", landing.quarantine)):
        lines += [
            f"| `{o['key']}` | {kind} | {o.get('rows', '')} | {o.get('bytes', '')} | {str(o.get('sha256', ''))[:12]} |"
            for o in objects
        ]
    return "\n".join(lines)
