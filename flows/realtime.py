"""Flow ``mq_realtime_landing``: one batch of MQ messages lands in Bronze, exactly once in effect.

Called three ways with the same parameter shape (``[{"data": "<base64>", "basicProperties":
{...}}]``): by the webhook receiver (``cardflow webhook``) synchronously per HTTP request, by a
deployment event trigger (Prefect Cloud webhook or ``prefect event emit``), or directly. The
RabbitMQ bridge (``cardflow consume``) calls the same landing task body without the flow wrapper,
to keep per-batch overhead out of the hot path. See docs/real_time_ingestion.md.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import Settings, get_settings
from cardflow.sources.mq.messages import RawMessage
from tasks.alerts import alert_on_failure
from tasks.realtime import land_messages_task
from tasks.run_names import realtime_run_name


@flow(
    name="mq-realtime-landing",
    flow_run_name=realtime_run_name,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def mq_realtime_landing(messages: list[dict], settings: Settings | None = None) -> dict[str, Any]:
    """Land one batch of MQ messages: valid events to Bronze, the rest to quarantine with a reason.

    Args:
        messages: the batch, each ``{"data": base64 body, "basicProperties": {"contentType",
            "headers", "timestamp", ...}}`` (header strings may be Amazon MQ ``{"bytes": [...]}``).
        settings: cardflow settings; defaults to :func:`get_settings`.

    Returns:
        Counts per outcome (messages, landed, duplicates, quarantined, objects, reasons) and the
        manifest key.

    Raises:
        StorageError: Bronze could not be written; the caller must not ack (the sender redelivers).
    """
    settings = settings or get_settings()
    store = resolve_backends(settings, needs={"bronze"}).store()  # fails here, before anything lands
    raw = [RawMessage.from_wire(m) for m in messages]
    result = land_messages_task(raw, store, settings.s3_prefix)
    counts = result.counts()
    create_table_artifact(
        key="mq-realtime-landing",
        table=[{k: v for k, v in counts.items() if k != "reasons"} | {"reasons": str(counts["reasons"])}],
        description=f"MQ batch {result.batch_id}: {result.landed} landed, {result.quarantined} quarantined",
    )
    return counts
