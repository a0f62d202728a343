"""Flow ``mq_realtime_landing``: record what one landed MQ batch put in Bronze.

The batch itself is landed before this flow runs, by the receiver that holds it (``cardflow
webhook`` answers 2xx only after the durable write; ``cardflow consume`` acks only after it). The
receiver then emits ``cardflow.mq.batch.landed`` with the batch id and the manifest key, and the
deployment trigger in prefect.yaml runs this flow with those two values. The flow reads the batch's
manifest back from Bronze, checks that every object it lists is there, and publishes what landed
(counts, objects, quarantine reasons) as the ``mq-realtime-landing`` artifact.

No parameter of this flow carries message bodies: they may hold personal data, and a batch of up
to 10,000 messages exceeds Prefect's 512 KiB parameter limit. See docs/real_time_ingestion.md.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import Settings, get_settings
from tasks.alerts import alert_on_failure
from tasks.assets import record_bronze_landing
from tasks.realtime import landing_markdown, read_batch_landing_task
from tasks.run_names import realtime_run_name


@flow(
    name="mq-realtime-landing",
    flow_run_name=realtime_run_name,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def mq_realtime_landing(
    manifest_key: str, batch_id: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Record one landed batch: read its manifest from Bronze and publish what it holds.

    Args:
        manifest_key: the batch's manifest, ``<S3_PREFIX>/_manifests/origin=realtime/<ingested_at>-<batch_id>.json``
            (the ``manifest_key`` of the ``cardflow.mq.batch.landed`` event, or of the webhook's answer).
        batch_id: when given, the manifest must belong to this batch.
        settings: cardflow settings; defaults to :func:`get_settings`.

    Returns:
        Counts per outcome (messages, landed, duplicates, quarantined, objects, reasons) and the
        manifest key.

    Raises:
        ManifestError: the manifest is missing, belongs to another batch, or lists an object that
            is not in Bronze (the run fails and alerts).
    """
    settings = settings or get_settings()
    store = resolve_backends(settings, needs={"bronze"}).store()  # fails here on a bad configuration
    landing = read_batch_landing_task(store, manifest_key, batch_id)
    counts = landing.counts()
    record_bronze_landing(
        settings,
        store.uri(settings.s3_prefix),
        {"rows_written": counts["landed"], "objects_written": counts["objects"], "quarantined": counts["quarantined"]},
        realtime=True,
    )
    create_markdown_artifact(
        key="mq-realtime-landing",
        markdown=landing_markdown(landing),
        description=f"MQ batch {landing.batch_id}: {landing.landed} landed, {landing.quarantined} quarantined",
    )
    return landing.counts()

