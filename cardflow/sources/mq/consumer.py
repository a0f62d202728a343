"""The RabbitMQ -> Bronze consumer (``cardflow consume``) and its ack rule.

**Ack rule: a message is acked only after the durable Bronze write of its batch.** Batches settle
strictly in delivery order with one ``basic_ack(delivery_tag=last, multiple=True)`` each, and only
after :func:`cardflow.sources.mq.landing.land_messages` returned, i.e. after every Bronze object and
the manifest of the batch were written (see :meth:`BatchConsumer._ack_landed_batches`). If Bronze
stays unwritable the consumer stops without acking, and the broker redelivers; a message that breaks
the landing is nacked with requeue and dead-lettered after RABBITMQ_DELIVERY_LIMIT deliveries
(:func:`cardflow.sources.mq.deliveries.land_or_isolate`). Nothing is acked twice.

The pika I/O loop stays on the main thread and never blocks: landing runs in a worker thread (or
worker processes), the loop keeps calling ``process_data_events`` (heartbeats stay alive during slow
uploads), and a finished landing wakes it through ``add_callback_threadsafe``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from pydantic import SecretStr

from cardflow.bronze.store import BronzeLocation, open_store
from cardflow.settings import Settings
from cardflow.sources.mq.connection import BrokerError, connection_parameters, describe_url
from cardflow.sources.mq.deliveries import (
    BatchOutcome,
    ConsumerStats,
    Delivery,
    Lander,
    delivery_of,
    init_worker,
    land_in_thread,
    land_in_worker,
    warm_worker,
)
from cardflow.sources.mq.landing import land_messages
from cardflow.sources.mq.topology import Topology, declare_topology

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerConfig:
    """How the bridge batches. ``batch_size`` must not exceed ``prefetch`` (guide §3: the broker
    stops delivering at ``prefetch`` unacked messages, so a bigger batch would never fill).
    ``url`` (RABBITMQ_URL, with its password) is kept as a ``SecretStr`` so the config's repr and
    logs never show it; a plain string is wrapped."""

    url: SecretStr | str
    topology: Topology
    prefix: str
    prefetch: int = 3000
    batch_size: int = 1000
    batch_seconds: float = 0.5
    workers: int = 0
    storage_attempts: int = 6
    heartbeat: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.url, SecretStr):
            object.__setattr__(self, "url", SecretStr(self.url))
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
class _Pending:
    """A dispatched batch: its deliveries up to ``last_tag`` are acked once ``future`` (the landing) is done."""

    last_tag: int
    batch: list[Delivery]
    future: Future
    started: float


class BatchConsumer:
    """The RabbitMQ -> Bronze bridge (``cardflow consume``).

    Args:
        config: queue, prefetch and batch settings.
        lander: lands one batch durably (default: :func:`land_messages` on the configured store,
            in ``config.workers`` processes); a given lander runs in threads of this process.
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

    @property
    def _in_processes(self) -> bool:
        """Landing in worker processes: configured, and no in-process ``lander`` was given (a
        callable of the caller's cannot be sent to another process; it runs in threads)."""
        return self.config.workers > 0 and self.lander is None

    def _make_executor(self) -> Executor:
        if self._in_processes:
            if self.bronze is None:
                raise ValueError("worker processes need the Bronze location to open their store")
            import multiprocessing

            pool = ProcessPoolExecutor(
                self.config.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(self.bronze, self.config.prefix),
            )
            # start the workers before consuming: their imports must not count against the first batches
            for ready in [pool.submit(warm_worker) for _ in range(self.config.workers)]:
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
        self._buffer.append(delivery_of(method.delivery_tag, bool(method.redelivered), props, body))
        if len(self._buffer) >= self.config.batch_size:
            self._dispatch()

    def _dispatch(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        assert self._executor is not None and self._connection is not None
        if self._in_processes:
            future = self._executor.submit(land_in_worker, batch, self.config.storage_attempts)
        else:
            assert self.lander is not None
            future = self._executor.submit(land_in_thread, self.lander, batch, self.config.storage_attempts)
        connection = self._connection
        future.add_done_callback(lambda _f: _wake(connection))
        last_tag = batch[-1][0]
        self._pending.append(_Pending(last_tag, batch, future, self._buffer_started))

    def _ack_landed_batches(self) -> None:
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
            failed = set(outcome.failed_tags)
            for tag in outcome.failed_tags:
                self._channel.basic_nack(tag, multiple=False, requeue=True)
            # ack up to the last delivery that landed: a nacked tag acked again (the batch's last
            # message broke the landing, e.g. a redelivered breaker alone in its batch) is an
            # unknown tag to the broker, which closes the channel
            landed = [tag for tag, *_ in pending.batch if tag not in failed]
            if landed:
                self._channel.basic_ack(max(landed), multiple=True)
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
            self._ack_landed_batches()
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
                    self._ack_landed_batches()
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
