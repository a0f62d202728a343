"""Prefect task of real-time landing: a thin wrapper over :func:`cardflow.sources.mq.landing.land_messages`."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from cardflow.bronze.store import BronzeStore
from cardflow.retry import retry_transient
from cardflow.sources.mq.landing import BatchLanding, land_messages
from cardflow.sources.mq.messages import RawMessage


@task(
    name="land-mq-batch",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=retry_transient,
    cache_policy=NONE,
)
def land_messages_task(messages: list[RawMessage], store: BronzeStore, prefix: str) -> BatchLanding:
    """Prefect task around :func:`land_messages` (retries are safe: writes are idempotent).

    Only transient failures (network, throttling: :func:`cardflow.retry.is_transient`) are retried;
    anything else fails the run at once and is alerted.
    """
    return land_messages(messages, store, prefix)
