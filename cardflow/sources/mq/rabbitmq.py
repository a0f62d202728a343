"""RabbitMQ plumbing: queue topology, a publisher with batched confirms, and the consumer bridge.

Topology (declared idempotently by both publisher and consumer):

* ``<queue>``: durable **quorum** queue with ``x-delivery-limit`` (RABBITMQ_DELIVERY_LIMIT) and a
  dead-letter exchange. The broker counts every return of a message (a nack with requeue, a
  consumer that died holding it) and dead-letters it once the limit is passed, so a poison message
  -- one that crashes or fails the consumer each time -- cannot block the stream.
* ``<queue>.dlx``: direct exchange; ``<queue>.dlq``: durable queue bound to it with the queue name
  as routing key. Dead-lettered messages carry ``x-death`` (reason ``delivery_limit``, or
  ``rejected``) and ``x-first-death-reason`` headers.

The consumer (:class:`BatchConsumer`) keeps pika's I/O loop on the main thread and never blocks it:
landing runs in a worker thread (or worker processes), the loop keeps calling
``process_data_events`` (heartbeats stay alive during slow uploads), and a finished landing wakes
it through ``add_callback_threadsafe``. Batches settle strictly in delivery order with one
``basic_ack(multiple=True)`` each, and only after :func:`cardflow.sources.mq.landing.land_messages` returned, i.e.
after every Bronze object and the manifest were written.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from cardflow.bronze.store import BronzeLocation, open_store
from cardflow.errors import CardflowError, StorageError
from cardflow.settings import Settings
from cardflow.sources.mq.landing import LandingResult, land_messages
from cardflow.sources.mq.messages import PUBLISHED_AT_HEADER, RawMessage, normalize_headers

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


class BrokerError(CardflowError):
    """RabbitMQ refused an operation (topology mismatch, unroutable or nacked publishes)."""


# --- topology ----------------------------------------------------------------------------------
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


def connection_parameters(url: str, *, heartbeat: int = 30, name: str | None = None) -> pika.URLParameters:
    """pika parameters from RABBITMQ_URL with a heartbeat the consumer loop always honours; ``name``
    shows in the management UI and ``rabbitmqctl list_connections client_properties``."""
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 300
    if name:
        params.client_properties = {"connection_name": name}
    return params


def describe_url(url: str) -> str:
    """The broker address for logs, without credentials."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 5672}{parsed.path or '/'}"


# --- publishing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outgoing:
    """One message to publish. ``properties`` headers get ``published_at`` stamped at send time."""

    body: bytes
    content_type: str = "application/json"
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    type: str | None = None


@dataclass
class PublishReport:
    published: int = 0
    confirmed: int = 0
    republished_after_nack: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "confirmed": self.confirmed,
            "republished_after_nack": self.republished_after_nack,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.confirmed / self.seconds) if self.seconds else None,
        }


class ConfirmingPublisher:
    """Publish with publisher confirms, keeping up to ``window`` messages unconfirmed.

    pika's BlockingChannel confirms each publish synchronously (about 1,200 messages/s); this uses
    the asynchronous SelectConnection and settles confirms as they arrive (``multiple`` acks cover
    many messages), so throughput is bound by the broker, not by round trips. Nacked messages are
    published again (at most ``max_attempts`` times); the call returns only when every message is
    confirmed.
    """

    def __init__(
        self,
        url: str,
        routing_key: str,
        *,
        exchange: str = "",
        window: int = 2000,
        max_attempts: int = 3,
        persistent: bool = True,
    ) -> None:
        self.params = connection_parameters(url)
        self.routing_key = routing_key
        self.exchange = exchange
        self.window = window
        self.max_attempts = max_attempts
        self.persistent = persistent

    def publish(self, messages: Iterable[Outgoing]) -> PublishReport:
        """Publish all ``messages`` and wait for their confirms.

        Raises:
            BrokerError: the connection failed or a message was nacked ``max_attempts`` times.
        """
        run = _PublishRun(self, iter(messages))
        return run.start()


class _PublishRun:
    def __init__(self, publisher: ConfirmingPublisher, source: Iterator[Outgoing]) -> None:
        self.p = publisher
        self.source = source
        self.retry: deque[tuple[Outgoing, int]] = deque()
        self.outstanding: dict[int, tuple[Outgoing, int]] = {}
        self.next_tag = 1
        self.exhausted = False
        self.report = PublishReport()
        self.error: str | None = None
        self.connection: pika.SelectConnection | None = None
        self.channel: Any = None

    def start(self) -> PublishReport:
        began = time.perf_counter()
        self.connection = pika.SelectConnection(
            self.p.params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self.connection.ioloop.start()
        self.report.seconds = time.perf_counter() - began
        if self.error:
            raise BrokerError(self.error)
        return self.report

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_open_error(self, _connection: Any, exc: BaseException) -> None:
        self.error = f"cannot connect to {self.p.params.host}:{self.p.params.port}: {exc}"
        assert self.connection is not None
        self.connection.ioloop.stop()

    def _on_closed(self, _connection: Any, reason: BaseException) -> None:
        if not (self.exhausted and not self.outstanding and not self.retry) and not self.error:
            self.error = f"connection closed with {len(self.outstanding)} messages unconfirmed: {reason}"
        assert self.connection is not None
        self.connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._pump())

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        if not self.error and not (self.exhausted and not self.outstanding):
            self.error = f"channel closed by broker: {reason}"
        if self.connection and self.connection.is_open:
            self.connection.close()

    def _pump(self) -> None:
        while len(self.outstanding) < self.p.window:
            if self.retry:
                message, attempt = self.retry.popleft()
            else:
                message = next(self.source, None)
                if message is None:
                    self.exhausted = True
                    break
                attempt = 1
            self._send(message, attempt)
        if self.exhausted and not self.outstanding and not self.retry:
            assert self.connection is not None
            self.connection.close()

    def _send(self, message: Outgoing, attempt: int) -> None:
        now = datetime.now(UTC)
        headers = dict(message.headers)
        headers.setdefault(PUBLISHED_AT_HEADER, now.isoformat(timespec="microseconds"))
        props = BasicProperties(
            content_type=message.content_type,
            delivery_mode=2 if self.p.persistent else 1,
            headers=headers,
            message_id=message.message_id,
            type=message.type,
            timestamp=int(now.timestamp()),
        )
        self.channel.basic_publish(self.p.exchange, self.p.routing_key, message.body, props)
        self.outstanding[self.next_tag] = (message, attempt)
        self.next_tag += 1
        self.report.published += 1

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        is_ack = isinstance(method, Basic.Ack)
        if method.multiple:
            tags = []
            for tag in self.outstanding:
                if tag > method.delivery_tag:
                    break
                tags.append(tag)
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self.outstanding else []
        for tag in tags:
            message, attempt = self.outstanding.pop(tag)
            if is_ack:
                self.report.confirmed += 1
            elif attempt < self.p.max_attempts:
                self.report.republished_after_nack += 1
                self.retry.append((message, attempt + 1))
            else:
                self.error = (
                    f"broker nacked a message {attempt} times (queue {self.p.routing_key!r}); giving up"
                )
                self.channel.close()
                return
        self._pump()


# --- consuming ---------------------------------------------------------------------------------
#: what the I/O thread keeps of a delivery: cheap to build, picklable; converted off the I/O thread
Delivery = tuple[int, bool, BasicProperties, bytes]


def raw_from_pika(method: Basic.Deliver, props: BasicProperties, body: bytes) -> RawMessage:
    """A :class:`RawMessage` from a pika delivery (broker-added headers removed)."""
    return raw_from_delivery((method.delivery_tag, bool(method.redelivered), props, body))


def raw_from_delivery(delivery: Delivery) -> RawMessage:
    """A :class:`RawMessage` from what the I/O thread kept of a delivery."""
    tag, redelivered, props, body = delivery
    headers = props.headers or {}
    if headers:
        headers = normalize_headers({k: v for k, v in headers.items() if k not in BROKER_HEADERS})
    stamp = datetime.fromtimestamp(props.timestamp, tz=UTC) if props.timestamp else None
    return RawMessage(
        body=body,
        content_type=props.content_type,
        content_encoding=props.content_encoding,
        headers=headers,
        timestamp=stamp,
        message_id=props.message_id,
        type=props.type,
        delivery_tag=tag,
        redelivered=redelivered,
    )


@dataclass(frozen=True)
class ConsumerConfig:
    """How the bridge batches. ``batch_size`` must not exceed ``prefetch`` (guide §3: the broker
    stops delivering at ``prefetch`` unacked messages, so a bigger batch would never fill)."""

    url: str
    topology: Topology
    prefix: str
    prefetch: int = 3000
    batch_size: int = 1000
    batch_seconds: float = 0.5
    workers: int = 0
    storage_attempts: int = 6
    heartbeat: int = 30

    def __post_init__(self) -> None:
        if self.batch_size > self.prefetch:
            raise ValueError(
                f"batch_size {self.batch_size} exceeds prefetch {self.prefetch}: batches would never fill"
            )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, queue: str | None = None, **overrides: Any
    ) -> ConsumerConfig:
        values: dict[str, Any] = {
            "url": settings.rabbitmq_url,
            "topology": Topology.from_settings(settings, queue),
            "prefix": settings.s3_prefix,
            "prefetch": settings.rabbitmq_prefetch,
            "batch_size": settings.rabbitmq_batch_size,
            "batch_seconds": settings.rabbitmq_batch_seconds,
            "workers": settings.rabbitmq_landing_workers,
        }
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


@dataclass
class BatchOutcome:
    """What a landing attempt returns to the I/O loop: results and the tags to nack."""

    results: list[LandingResult]
    failed_tags: list[int]
    failures: list[str]


@dataclass
class ConsumerStats:
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


Lander = Callable[[list[RawMessage]], LandingResult]

_worker_lander: Lander | None = None


def _init_worker(bronze: BronzeLocation, prefix: str) -> None:
    """Process-pool initializer: each worker opens its own store (clients are not picklable)."""
    global _worker_lander
    store = open_store(bronze)
    _worker_lander = lambda batch: land_messages(batch, store, prefix)  # noqa: E731


def _land_in_worker(batch: list[Delivery], attempts: int) -> BatchOutcome:
    assert _worker_lander is not None
    return land_or_isolate(_worker_lander, [raw_from_delivery(d) for d in batch], attempts=attempts)


def _land_in_thread(lander: Lander, batch: list[Delivery], attempts: int) -> BatchOutcome:
    return land_or_isolate(lander, [raw_from_delivery(d) for d in batch], attempts=attempts)


def _warm_worker() -> bool:
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


@dataclass
class _Pending:
    last_tag: int
    batch: list[Delivery]
    future: Future
    started: float


class BatchConsumer:
    """The RabbitMQ -> Bronze bridge (``cardflow consume``).

    Args:
        config: queue, prefetch and batch settings.
        lander: lands one batch durably (default: :func:`land_messages` on the configured store);
            called off the I/O thread.
        bronze: where Bronze lives (``resolve_backends(settings).bronze``); needed without a
            ``lander`` and when ``config.workers > 0`` (worker processes open their own store).
        on_settled: optional hook ``(deliveries, outcome, settled_monotonic)`` called on the
            I/O thread after the acks of a batch were sent (benchmarks measure latency with it).
        reconnect_attempts: after a lost connection, reconnect up to this many times (backoff
            1 s .. 30 s); unacked messages are redelivered by the broker and land idempotently.
    """

    def __init__(
        self,
        config: ConsumerConfig,
        lander: Lander | None = None,
        *,
        bronze: BronzeLocation | None = None,
        on_settled: Callable[[list[Delivery], BatchOutcome, float], None] | None = None,
        reconnect_attempts: int = 10,
    ) -> None:
        self.config = config
        self.lander = lander
        self.bronze = bronze
        self.on_settled = on_settled
        self.stats = ConsumerStats()
        self._stop = threading.Event()
        self._buffer: list[Delivery] = []
        self._buffer_started = 0.0
        self._pending: deque[_Pending] = deque()
        self._executor: Executor | None = None
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._consumer_tag: str | None = None
        self._fatal: BaseException | None = None
        self.reconnect_attempts = reconnect_attempts

    # -- lifecycle ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish: stop consuming, land and ack what was received, disconnect."""
        self._stop.set()
        if self._connection is not None:
            try:
                self._connection.add_callback_threadsafe(lambda: None)
            except Exception:  # the connection may be gone already; the loop checks the flag anyway
                logger.debug("wake-up after stop() not delivered", exc_info=True)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT trigger :meth:`stop` (main thread only)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self._on_signal(signum))

    def _on_signal(self, signum: int) -> None:
        logger.info(
            "received %s: finishing in-flight batches, then disconnecting", signal.Signals(signum).name
        )
        self._stop.set()

    def run(
        self, *, max_messages: int | None = None, idle_exit_seconds: float | None = None
    ) -> ConsumerStats:
        """Consume until stopped (signal or :meth:`stop`), ``max_messages`` were settled, or the
        queue was idle for ``idle_exit_seconds``. Returns counts.

        Raises:
            StorageError: Bronze stayed unwritable through all retries (nothing unlanded was acked).
            BrokerError: the queue could not be declared.
        """
        self._executor = self._make_executor()
        try:
            self._connect()
            delay = 1.0
            while True:
                try:
                    self._loop(max_messages, idle_exit_seconds)
                    break
                except _CONNECTION_LOST as exc:
                    if self._stop.is_set() or self.reconnect_attempts <= 0:
                        raise BrokerError(f"lost the broker connection: {exc!r}") from exc
                    self._abandon_in_flight(exc)
                    delay = self._reconnect(delay)
        finally:
            self._shutdown()
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    def _abandon_in_flight(self, exc: BaseException) -> None:
        """The channel is gone: its delivery tags are void and the broker requeues every unacked
        message. Let running landings finish (they are idempotent) and forget buffer and pending."""
        self.stats.reconnects += 1
        for pending in self._pending:
            try:
                pending.future.result()
            except BaseException:  # the redelivery will retry it
                logger.debug("in-flight landing failed while the connection was down", exc_info=True)
        logger.warning(
            "lost the broker connection (%r); %d buffered and %d in-flight messages will be redelivered",
            exc,
            len(self._buffer),
            sum(len(p.batch) for p in self._pending),
        )
        self._pending.clear()
        self._buffer = []
        self._connection = self._channel = None

    def _reconnect(self, delay: float) -> float:
        """Reconnect with exponential backoff (1 s .. 30 s), at most ``reconnect_attempts`` tries."""
        for attempt in range(1, self.reconnect_attempts + 1):
            if self._stop.is_set():
                return delay
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
            try:
                self._connect()
                return 1.0
            except BrokerError as exc:
                logger.warning("reconnect %d/%d failed: %s", attempt, self.reconnect_attempts, exc)
        raise BrokerError(
            f"could not reconnect to {describe_url(self.config.url)} after {self.reconnect_attempts} tries"
        )

    def _make_executor(self) -> Executor:
        if self.config.workers > 0:
            if self.bronze is None:
                raise ValueError("worker processes need the Bronze location to open their store")
            import multiprocessing

            pool = ProcessPoolExecutor(
                self.config.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.bronze, self.config.prefix),
            )
            # start the workers before consuming: their imports must not count against the first batches
            for ready in [pool.submit(_warm_worker) for _ in range(self.config.workers)]:
                ready.result()
            return pool
        if self.lander is None:
            if self.bronze is None:
                raise ValueError("BatchConsumer needs a lander or the Bronze location")
            store, prefix = open_store(self.bronze), self.config.prefix
            self.lander = lambda batch: land_messages(batch, store, prefix)
        # two landings may overlap (one waits on uploads while the next encodes); acks stay in order
        return ThreadPoolExecutor(2, thread_name_prefix="cardflow-landing")

    def _connect(self) -> None:
        params = connection_parameters(
            self.config.url,
            heartbeat=self.config.heartbeat,
            name=f"cardflow-consume {self.config.topology.queue}",
        )
        try:
            self._connection = pika.BlockingConnection(params)
        except pika.exceptions.AMQPConnectionError as exc:
            raise BrokerError(
                f"cannot connect to RabbitMQ at {describe_url(self.config.url)}: {exc!r}. "
                "Is it running? Check RABBITMQ_URL."
            ) from exc
        self._channel = self._connection.channel()
        declare_topology(self._channel, self.config.topology)
        self._channel.basic_qos(prefetch_count=self.config.prefetch)
        self._consumer_tag = self._channel.basic_consume(
            self.config.topology.queue, self._on_message, auto_ack=False
        )
        logger.info(
            "consuming %s on %s (prefetch %d, batches of %d or %.2fs, delivery limit %d, DLQ %s)",
            self.config.topology.queue,
            describe_url(self.config.url),
            self.config.prefetch,
            self.config.batch_size,
            self.config.batch_seconds,
            self.config.topology.delivery_limit,
            self.config.topology.dead_letter_queue,
        )

    # -- the loop -------------------------------------------------------------------------------
    def _on_message(
        self, _channel: BlockingChannel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        if not self._buffer:
            self._buffer_started = time.monotonic()
        self._buffer.append((method.delivery_tag, bool(method.redelivered), props, body))
        if len(self._buffer) >= self.config.batch_size:
            self._dispatch()

    def _dispatch(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        assert self._executor is not None and self._connection is not None
        if self.config.workers > 0:
            future = self._executor.submit(_land_in_worker, batch, self.config.storage_attempts)
        else:
            assert self.lander is not None
            future = self._executor.submit(_land_in_thread, self.lander, batch, self.config.storage_attempts)
        connection = self._connection
        future.add_done_callback(lambda _f: _wake(connection))
        last_tag = batch[-1][0]
        self._pending.append(_Pending(last_tag, batch, future, self._buffer_started))

    def _settle(self) -> None:
        """Ack (multiple) every finished batch at the head of the queue, in delivery order."""
        assert self._channel is not None
        while self._pending and self._pending[0].future.done():
            pending = self._pending.popleft()
            try:
                outcome: BatchOutcome = pending.future.result()
            except BaseException as exc:
                # storage down for good: ack nothing more, stop; unacked messages go back to the queue
                self._fatal = exc
                self._stop.set()
                logger.error(
                    "landing failed after retries; stopping without ack (batch ending at tag %d): %s",
                    pending.last_tag,
                    exc,
                )
                self._pending.clear()
                return
            for tag in outcome.failed_tags:
                self._channel.basic_nack(tag, multiple=False, requeue=True)
            self._channel.basic_ack(pending.last_tag, multiple=True)
            self.stats.add(outcome, len(pending.batch))
            if self.on_settled is not None:
                self.on_settled(pending.batch, outcome, time.monotonic())

    def _loop(self, max_messages: int | None, idle_exit_seconds: float | None) -> None:
        assert self._connection is not None
        last_activity = time.monotonic()
        tick = min(0.05, self.config.batch_seconds / 4)
        while not self._stop.is_set():
            before = self.stats.messages + len(self._buffer)
            self._connection.process_data_events(time_limit=tick)
            now = time.monotonic()
            if self._buffer and now - self._buffer_started >= self.config.batch_seconds:
                self._dispatch()
            self._settle()
            if self.stats.messages + len(self._buffer) != before or self._pending:
                last_activity = now
            if max_messages is not None and self.stats.messages >= max_messages:
                break
            if (
                idle_exit_seconds is not None
                and not self._buffer
                and now - last_activity >= idle_exit_seconds
            ):
                break

    def _shutdown(self) -> None:
        """Stop consuming, land what was received, ack it, close. Never acks an unlanded message."""
        channel, connection = self._channel, self._connection
        try:
            if channel is not None and channel.is_open and self._consumer_tag:
                # pika nacks (requeues) deliveries that arrived but were not yet dispatched to us
                channel.basic_cancel(self._consumer_tag)
            if self._fatal is None and channel is not None and channel.is_open:
                self._dispatch()
                while self._pending and self._fatal is None:
                    assert connection is not None
                    connection.process_data_events(time_limit=0.05)
                    self._settle()
        except pika.exceptions.AMQPError as exc:
            logger.warning(
                "broker connection lost during shutdown (%s); unacked messages will be redelivered", exc
            )
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
            if connection is not None and connection.is_open:
                try:
                    connection.close()
                except pika.exceptions.AMQPError:
                    logger.debug("close after shutdown failed", exc_info=True)
            logger.info("consumer stopped: %s", self.stats.as_dict())


_CONNECTION_LOST = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.ChannelClosedByBroker,
    pika.exceptions.ChannelWrongStateError,
)


def _wake(connection: pika.BlockingConnection) -> None:
    try:
        connection.add_callback_threadsafe(lambda: None)
    except Exception:  # connection closed meanwhile: the loop has ended or will notice
        logger.debug("wake-up not delivered", exc_info=True)
