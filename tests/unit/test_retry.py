"""The retry policy: transient failures (network, throttling, locks) retry; data errors never do."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from cardflow.errors import (
    ConfigurationError,
    ContractViolation,
    EventStoreError,
    LoadError,
    QualityGateFailed,
    StorageError,
    TransformError,
)
from cardflow.retry import backoff_delays, call_with_retries, is_transient, retry_transient


def _wrapped(outer: Exception, cause: BaseException) -> Exception:
    try:
        raise outer from cause
    except Exception as exc:
        return exc


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError("refused"), True),
        (TimeoutError("slow"), True),
        (EndpointConnectionError(endpoint_url="http://s3"), True),
        (_client_error("SlowDown", 503), True),
        (_client_error("ThrottlingException", 400), True),
        (_client_error("AccessDenied", 403), False),
        (_client_error("NoSuchBucket", 404), False),
        (_wrapped(StorageError("k", "write failed"), ConnectionResetError()), True),
        (_wrapped(EventStoreError("db down"), __import__("psycopg2").OperationalError("conn")), True),
        (_wrapped(LoadError("f.json.gz", "bad JSON"), ValueError("x")), False),
        (LoadError("f.json.gz", "bad JSON"), False),
        (ContractViolation("bad", "detail"), False),
        (QualityGateFailed("gold", ["x"]), False),
        (TransformError("dbt failed"), False),
        (ConfigurationError("S3_BUCKET", "missing"), False),
        # a data error stays final even if a network error happened on the way
        (_wrapped(TransformError("dbt failed"), ConnectionError()), False),
        (ValueError("bug"), False),
        (FileNotFoundError("nope"), False),
    ],
)
def test_is_transient(exc: BaseException, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_duckdb_lock_is_transient() -> None:
    import duckdb

    assert is_transient(duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock'))
    assert not is_transient(duckdb.IOException("No such file or directory"))


def test_backoff_doubles_with_jitter_and_cap() -> None:
    delays = backoff_delays(5, 10, max_seconds=60)
    bounds = [(5, 10), (10, 20), (20, 40), (30, 60), (30, 60)]
    assert all(low <= d <= high for d, (low, high) in zip(delays, bounds, strict=True))


def test_transient_failures_are_retried_until_success() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset")
        return "ok"

    assert call_with_retries(flaky, retries=3, base_delay_seconds=1, label="t", sleep=slept.append) == "ok"
    assert len(calls) == 3 and len(slept) == 2


def test_data_errors_fail_at_once() -> None:
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise QualityGateFailed("gold", ["fct_orders: 3 rows with negative quantity"])

    with pytest.raises(QualityGateFailed):
        call_with_retries(bad, retries=5, base_delay_seconds=1, label="t", sleep=lambda s: None)
    assert len(calls) == 1


def test_retries_are_bounded() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise TimeoutError("still down")

    with pytest.raises(TimeoutError):
        call_with_retries(down, retries=2, base_delay_seconds=1, label="t", sleep=lambda s: None)
    assert len(calls) == 3


def test_prefect_task_retries_only_transient_errors() -> None:
    """``retry_transient`` as a task's ``retry_condition_fn``: network errors retried, data errors not."""
    from prefect import flow, task

    attempts = {"flaky": 0, "bad": 0}

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=retry_transient)
    def flaky() -> str:
        attempts["flaky"] += 1
        if attempts["flaky"] < 3:
            raise ConnectionResetError("peer reset")
        return "landed"

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=retry_transient)
    def bad() -> None:
        attempts["bad"] += 1
        raise ContractViolation("bad_decimal", "price.units is not an integer")

    @flow
    def run_both() -> tuple[str, bool]:
        state = bad(return_state=True)
        return flaky(), state.is_failed()

    assert run_both() == ("landed", True)
    assert attempts == {"flaky": 3, "bad": 1}
