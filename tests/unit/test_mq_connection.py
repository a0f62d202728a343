"""RABBITMQ_URL stays secret where the MQ code uses it: consumer config, logs and connection errors."""

from __future__ import annotations

import logging
import socket

import pytest

from cardflow.settings import load_settings
from cardflow.sources.mq.connection import BrokerError, connection_parameters, describe_url
from cardflow.sources.mq.consumer import BatchConsumer, ConsumerConfig

PASSWORD = "rabbit-pw-456"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_parameters_use_the_secret_and_logs_do_not() -> None:
    url = f"amqp://ingest:{PASSWORD}@127.0.0.1:5673/cardflow"
    settings = load_settings(rabbitmq_url=url)
    params = connection_parameters(settings.rabbitmq_url, name="x")
    assert params.credentials.password == PASSWORD and params.port == 5673
    assert describe_url(settings.rabbitmq_url) == "amqp://127.0.0.1:5673/cardflow"
    assert describe_url(f"amqps://u:{PASSWORD}@b-1.mq.example/%2F") == "amqps://b-1.mq.example:5671/%2F"
    config = ConsumerConfig.from_settings(settings)
    assert PASSWORD not in repr(config)
    assert PASSWORD not in repr(ConsumerConfig(url, config.topology, "bronze"))  # a plain str is wrapped


def test_failed_connection_names_the_broker_not_the_password(caplog: pytest.LogCaptureFixture) -> None:
    url = f"amqp://ingest:{PASSWORD}@127.0.0.1:{_closed_port()}/%2F"
    config = ConsumerConfig.from_settings(load_settings(rabbitmq_url=url))
    consumer = BatchConsumer(config, lander=lambda batch: pytest.fail("nothing to land"), reconnect_attempts=0)
    with caplog.at_level(logging.DEBUG), pytest.raises(BrokerError) as info:
        consumer.run(idle_exit_seconds=0.1)
    assert "127.0.0.1" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
    assert PASSWORD not in caplog.text


def test_landing_runs_in_a_worker_process_by_default_and_a_given_lander_in_threads(tmp_path) -> None:
    """The default consumer lands off the I/O loop's GIL (one process); a caller's own lander (a
    callable that cannot cross processes) runs in threads; RABBITMQ_LANDING_WORKERS=0 means threads."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    settings = load_settings(data_dir=tmp_path)
    config = ConsumerConfig.from_settings(settings)
    assert config.workers == 1
    default = BatchConsumer(config, bronze=tmp_path / "lake")
    executor = default._make_executor()
    try:
        assert isinstance(executor, ProcessPoolExecutor)
    finally:
        executor.shutdown()
    given = BatchConsumer(config, lander=lambda batch: pytest.fail("not called"))
    assert isinstance(given._make_executor(), ThreadPoolExecutor)
    threads = BatchConsumer(ConsumerConfig.from_settings(settings, workers=0), bronze=tmp_path / "lake")
    assert isinstance(threads._make_executor(), ThreadPoolExecutor)


class _RecordingChannel:
    """What the consumer says to the broker about each delivery tag."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    def basic_nack(self, tag: int, multiple: bool, requeue: bool) -> None:
        self.calls.append(("nack", tag, multiple))

    def basic_ack(self, tag: int, multiple: bool) -> None:
        self.calls.append(("ack", tag, multiple))


@pytest.mark.parametrize(
    ("tags", "failed", "expected"),
    [
        ([5, 6, 7], [6], [("nack", 6, False), ("ack", 7, True)]),
        # the batch's last delivery broke the landing (a redelivered breaker alone in its batch):
        # acking it after its nack named an unknown tag, and the broker closed the channel
        ([58], [58], [("nack", 58, False)]),
        ([8, 9], [9], [("nack", 9, False), ("ack", 8, True)]),
    ],
)
def test_a_nacked_delivery_is_never_acked_again(tags: list[int], failed: list[int], expected: list) -> None:
    from concurrent.futures import Future

    from cardflow.sources.mq.consumer import _Pending
    from cardflow.sources.mq.deliveries import BatchOutcome

    settings = load_settings(rabbitmq_url="amqp://guest:guest@127.0.0.1:5672/%2F")
    consumer = BatchConsumer(ConsumerConfig.from_settings(settings), lander=lambda batch: pytest.fail("not called"))
    channel = _RecordingChannel()
    consumer._channel = channel  # type: ignore[assignment]
    done: Future = Future()
    done.set_result(BatchOutcome(results=[], failed_tags=failed, failures=["breaks the landing"] * len(failed)))
    consumer._pending.append(_Pending(tags[-1], [(t, False, None, b"") for t in tags], done, 0.0))
    consumer._ack_landed_batches()
    assert channel.calls == expected
