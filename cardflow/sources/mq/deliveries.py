"""What the consumer does with one batch of deliveries, off the pika I/O thread.

* :func:`raw_from_delivery` turns what the I/O thread kept of a delivery into a
  :class:`~cardflow.sources.mq.messages.RawMessage` (broker-added headers removed, so a redelivery
  lands the same bytes);
* :func:`land_or_isolate` lands the batch with :func:`~cardflow.sources.mq.landing.land_messages`:
  storage errors are retried with backoff, and a message that breaks the code (a poison message) is
  isolated so that the rest of its batch still lands and only it goes back to the broker;
* ``init_worker`` / ``land_in_worker`` run the same in worker processes (``--workers N``).

The consumer (:mod:`cardflow.sources.mq.consumer`) acks a batch only after this returned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pika.spec import BasicProperties

from cardflow.bronze.store import BronzeLocation, open_store
from cardflow.errors import StorageError
from cardflow.sources.mq.landing import BatchLanding, land_messages
from cardflow.sources.mq.messages import RawMessage, normalize_headers

logger = logging.getLogger(__name__)

#: headers the broker adds on redelivery/dead-lettering: not part of the message's identity
BROKER_HEADERS: Final = frozenset(
    {
        "x-delivery-count",
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-received-from",
    }
)

DeliveryProperties = tuple[str | None, str | None, dict[str, Any] | None, int | None, str | None, str | None]
"""The AMQP properties a message's landing reads: ``(content_type, content_encoding, headers,
timestamp, message_id, type)``. Plain values, not pika's ``BasicProperties``: a batch goes to the
landing process pickled, and a ``BasicProperties`` object pickles and unpickles at ~4 us a message
against ~0.5 us for this tuple (the landing process is the consumer's busiest)."""

Delivery = tuple[int, bool, DeliveryProperties, bytes]
"""What the I/O thread keeps of a delivery: ``(delivery_tag, redelivered, properties, body)``;
cheap to build and to pickle, turned into a :class:`RawMessage` off the I/O thread."""


def delivery_of(tag: int, redelivered: bool, props: BasicProperties, body: bytes) -> Delivery:
    """What the I/O thread keeps of one delivery (see :data:`Delivery`)."""
    kept = (props.content_type, props.content_encoding, props.headers, props.timestamp, props.message_id, props.type)
    return tag, redelivered, kept, body


def delivery_headers(delivery: Delivery) -> dict[str, Any]:
    """The AMQP headers of a kept delivery (as the broker sent them; empty when none)."""
    return delivery[2][2] or {}


def raw_from_delivery(delivery: Delivery) -> RawMessage:
    """A :class:`RawMessage` from what the I/O thread kept of a delivery."""
    tag, redelivered, (content_type, content_encoding, _, timestamp, message_id, type_), body = delivery
    headers = {k: v for k, v in delivery_headers(delivery).items() if k not in BROKER_HEADERS}
    return RawMessage(
        body=body,
        content_type=content_type,
        content_encoding=content_encoding,
        headers=normalize_headers(headers) if headers else {},
        timestamp=datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None,
        message_id=message_id,
        type=type_,
        delivery_tag=tag,
        redelivered=redelivered,
    )


@dataclass
class BatchOutcome:
    """What a landing attempt returns to the I/O loop: results and the tags to nack."""

    results: list[BatchLanding]
    failed_tags: list[int]
    failures: list[str]


@dataclass
class ConsumerStats:
    """Running counts of a consumer (printed by ``cardflow consume`` when it stops)."""

    batches: int = 0
    messages: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    nacked: int = 0
    objects: int = 0
    reconnects: int = 0

    def add(self, outcome: BatchOutcome, size: int) -> None:
        self.batches += 1
        self.messages += size
        self.nacked += len(outcome.failed_tags)
        for r in outcome.results:
            self.landed += r.landed
            self.duplicates += r.duplicates
            self.quarantined += r.quarantined
            self.objects += len(r.objects) + len(r.quarantine)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


Lander = Callable[[list[RawMessage]], BatchLanding]

_worker_lander: Lander | None = None


def init_worker(bronze: BronzeLocation, prefix: str) -> None:
    """Process-pool initializer: each worker opens its own store (clients are not picklable)."""
    global _worker_lander
    store = open_store(bronze)
    _worker_lander = lambda batch: land_messages(batch, store, prefix)  # noqa: E731


def land_in_worker(batch: list[Delivery], attempts: int) -> BatchOutcome:
    """Worker-process entry point: deliveries are picklable, the store was built by :func:`init_worker`."""
    assert _worker_lander is not None
    return land_or_isolate(_worker_lander, [raw_from_delivery(d) for d in batch], attempts=attempts)


def land_in_thread(lander: Lander, batch: list[Delivery], attempts: int) -> BatchOutcome:
    """Landing-thread entry point: the conversion to messages happens here, off the I/O thread."""
    return land_or_isolate(lander, [raw_from_delivery(d) for d in batch], attempts=attempts)


def warm_worker() -> bool:
    """Submitted once per worker before consuming, so worker start-up is not paid by the first batches."""
    return _worker_lander is not None


def land_or_isolate(lander: Lander, batch: list[RawMessage], *, attempts: int = 6) -> BatchOutcome:
    """Land a batch; retry storage errors with backoff; isolate messages that break the landing.

    * :class:`StorageError` (store down, throttled): retried ``attempts`` times with exponential
      backoff (0.5 s, 1 s, 2 s, ...); then re-raised -- the consumer stops without acking and the
      broker redelivers the batch to the next consumer.
    * Any other exception means some message breaks the code: the batch is landed one message at a
      time, the good ones land, and the failing ones are returned for a nack with requeue; the
      broker dead-letters them after RABBITMQ_DELIVERY_LIMIT deliveries.
    """
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return BatchOutcome([lander(batch)], [], [])
        except StorageError as exc:
            if attempt == attempts:
                raise
            logger.warning(
                "storage write failed (attempt %d/%d), retrying in %.1fs: %s", attempt, attempts, delay, exc
            )
            time.sleep(delay)
            delay = min(delay * 2, 30)
        except Exception as exc:
            logger.error(
                "batch of %d failed with %s; landing messages one by one to isolate it",
                len(batch),
                type(exc).__name__,
            )
            break
    results, failed, failures = [], [], []
    for message in batch:
        try:
            results.append(lander([message]))
        except StorageError:
            raise
        except Exception as exc:
            failed.append(message.delivery_tag if message.delivery_tag is not None else -1)
            failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            logger.error(
                "message (delivery tag %s) breaks the landing: %s", message.delivery_tag, type(exc).__name__
            )
    return BatchOutcome(results, failed, failures)
