"""Which failures are worth retrying, and a backoff loop that retries only those.

A retry helps when the failure was about the *path* to a system (a dropped connection, a timeout,
throttling, a warehouse file locked by another process): the same call a little later succeeds.
It never helps when the failure is about the *data* or the configuration (a contract violation, a
quality gate, a dbt model error, a missing variable): retrying repeats the failure and delays the
alert. So:

* :data:`NEVER_RETRIED` errors are final, whatever caused them;
* otherwise an error is transient if it, or any exception in its ``__cause__``/``__context__``
  chain, is a network/throttling error (:func:`is_transient`). cardflow's own wrappers
  (StorageError, EventStoreError, LoadError) re-raise ``from`` the driver error, so the chain shows
  whether a wrapped failure was the network or the data.

:func:`retry_transient` is a Prefect ``retry_condition_fn`` for tasks; :func:`call_with_retries`
is the same policy for subflow calls (Prefect flows have retries but no retry condition).
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from cardflow.errors import ConfigurationError, ContractViolation, QualityGateFailed, TransformError

logger = logging.getLogger(__name__)

T = TypeVar("T")

NEVER_RETRIED: tuple[type[BaseException], ...] = (
    ContractViolation,
    QualityGateFailed,
    TransformError,
    ConfigurationError,
)
"""Data and configuration errors: a retry would fail the same way."""

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""AWS error codes that mean "try again later"."""

TRANSIENT_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _transient_types() -> tuple[type[BaseException], ...]:
    """Driver exception classes that mean the path failed, imported only if installed."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError, socket.gaierror, socket.timeout]
    try:
        import httpx

        types.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a dependency of prefect
        pass
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        types += [BotoConnectionError, HTTPClientError]
    except ImportError:  # pragma: no cover - boto3 is a dependency
        pass
    try:
        import psycopg2

        types.append(psycopg2.OperationalError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from pika.exceptions import AMQPConnectionError

        types.append(AMQPConnectionError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from snowflake.connector.errors import OperationalError as SnowflakeOperationalError

        types.append(SnowflakeOperationalError)
    except ImportError:  # pragma: no cover - only with the snowflake extra
        pass
    return tuple(types)


_TRANSIENT = _transient_types()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes/contexts, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_transient_one(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    try:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return error.get("Code") in THROTTLING_CODES or status in TRANSIENT_HTTP_STATUS
    except ImportError:  # pragma: no cover
        pass
    try:
        import httpx

        if isinstance(exc, httpx.HTTPStatusError):
            return exc.response.status_code in TRANSIENT_HTTP_STATUS
    except ImportError:  # pragma: no cover
        pass
    try:
        import duckdb

        # another process holds the DuckDB file: it frees it when its run ends
        if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
            return True
    except ImportError:  # pragma: no cover
        pass
    return False


def is_transient(exc: BaseException) -> bool:
    """True if ``exc`` is a network/throttling failure worth retrying; data errors never are."""
    chain = list(_chain(exc))
    if any(isinstance(e, NEVER_RETRIED) for e in chain):
        return False
    return any(_is_transient_one(e) for e in chain)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry the task only when its exception is transient.

    Use with ``@task(retries=3, retry_delay_seconds=exponential_backoff(10), retry_condition_fn=retry_transient)``.
    """
    try:
        state.result()
    except BaseException as exc:  # the failed state's exception, re-raised by result()
        return is_transient(exc)
    return False


def backoff_delays(attempts: int, base_seconds: float, max_seconds: float = 300.0) -> list[float]:
    """Exponential backoff with jitter for ``attempts`` retries: base, 2*base, 4*base... jittered to 50-100%."""
    return [min(max_seconds, base_seconds * 2**i) * random.uniform(0.5, 1.0) for i in range(attempts)]


def call_with_retries(
    fn: Callable[..., T],
    *args: Any,
    retries: int,
    base_delay_seconds: float,
    label: str,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)``; on a transient error wait and call again, up to ``retries`` times.

    Raises:
        The last exception, unchanged, when it is not transient or the retries are used up.
    """
    delays = backoff_delays(retries, base_delay_seconds)
    for attempt in range(retries + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt >= retries or not is_transient(exc):
                if attempt:
                    logger.error("%s failed after %d attempt(s): %s", label, attempt + 1, type(exc).__name__)
                raise
            delay = delays[attempt]
            logger.warning(
                "%s failed with a transient %s (attempt %d of %d); retrying in %.1f s",
                label,
                type(exc).__name__,
                attempt + 1,
                retries + 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
