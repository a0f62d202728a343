"""cardflow's library loggers reach the flow run's logs in the Prefect API (tasks.run_logs)."""

from __future__ import annotations

import logging
import uuid

from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.context import get_run_context
from prefect.logging.handlers import APILogHandler

import tasks  # noqa: F401  (importing the package captures the cardflow logger)
from tasks.run_logs import capture_library_logs

library = logging.getLogger("cardflow.sources.eventstore.landing")


@task
def _chunk(marker: str) -> None:
    library.info("backfill %s: chunk 0 committed", marker)


@flow
def _flow(marker: str) -> str:
    library.info("backfill %s: planned", marker)
    logging.getLogger("httpx").info("HTTP Request: %s", marker)  # a noisy dependency: not captured
    _chunk(marker)
    return str(get_run_context().flow_run.id)


def test_library_lines_are_in_the_flow_run_logs_and_noisy_ones_are_not() -> None:
    marker = uuid.uuid4().hex
    flow_run_id = _flow(marker)
    APILogHandler().flush()  # send what is queued before reading it back
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(flow_run_id)])))
    mine = {(log.name, log.message) for log in logs if marker in log.message}
    assert ("cardflow.sources.eventstore.landing", f"backfill {marker}: planned") in mine
    assert ("cardflow.sources.eventstore.landing", f"backfill {marker}: chunk 0 committed") in mine
    assert not any(name == "httpx" for name, _ in mine)


def test_capture_is_idempotent_and_outside_a_run_nothing_is_sent(recwarn) -> None:
    logger = capture_library_logs()
    assert sum(isinstance(h, APILogHandler) for h in logger.handlers) == 1
    assert logger.getEffectiveLevel() == logging.INFO
    library.info("outside any run")
    assert not [w for w in recwarn if "flow run" in str(w.message)]
