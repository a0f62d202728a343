"""Queue topology: the work queue, its dead-letter exchange and dead-letter queue.

Declared idempotently by the consumer (``cardflow consume``) and the publisher
(``cardflow generate --to rabbitmq``):

* ``<queue>``: durable **quorum** queue with ``x-delivery-limit`` (RABBITMQ_DELIVERY_LIMIT) and a
  dead-letter exchange. The broker counts every return of a message (a nack with requeue, a
  consumer that died holding it) and dead-letters it once the limit is passed, so a poison message
  -- one that crashes or fails the consumer each time -- cannot block the stream.
* ``<queue>.dlx``: direct exchange; ``<queue>.dlq``: durable queue bound to it with the queue name
  as routing key. Dead-lettered messages carry ``x-death`` (reason ``delivery_limit``, or
  ``rejected``) and ``x-first-death-reason`` headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from cardflow.settings import Settings
from cardflow.sources.mq.connection import BrokerError


@dataclass(frozen=True)
class Topology:
    """Names and limits of the queue, its dead-letter exchange and dead-letter queue."""

    queue: str
    delivery_limit: int = 5

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    @classmethod
    def from_settings(cls, settings: Settings, queue: str | None = None) -> Topology:
        return cls(queue=queue or settings.rabbitmq_queue, delivery_limit=settings.rabbitmq_delivery_limit)

    def queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.queue,
        }


def declare_topology(channel: BlockingChannel, topology: Topology) -> None:
    """Declare the DLX, the DLQ and the queue. Does nothing if they exist with the same arguments.

    Raises:
        BrokerError: the queue exists with other arguments (e.g. a classic queue of that name).
    """
    try:
        channel.exchange_declare(topology.dead_letter_exchange, exchange_type="direct", durable=True)
        channel.queue_declare(topology.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(
            topology.dead_letter_queue, topology.dead_letter_exchange, routing_key=topology.queue
        )
        channel.queue_declare(topology.queue, durable=True, arguments=topology.queue_arguments())
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise BrokerError(
            f"declaring queue {topology.queue!r} failed: {exc.reply_text}. If it exists with other "
            "arguments, delete it or set RABBITMQ_QUEUE to a new name (cardflow needs a quorum queue "
            "with a dead-letter exchange)."
        ) from exc
