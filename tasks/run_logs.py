"""cardflow's library logs in the Prefect UI: the ``cardflow`` logger is captured in flow-run logs.

The library (``cardflow/``) logs through module loggers and knows nothing of Prefect; what users
want to read on a run's page (backfill chunks, load batches, gate verdicts) is logged there. This
module attaches Prefect's API log handler to the ``cardflow`` logger at INFO, with a filter that
passes only records made inside a flow or task run, so library use outside a run (tests, the CLI's
``--no-prefect`` path, the webhook) sends nothing and warns about nothing. Noisy dependencies are
held at WARNING. It is the code form of ``PREFECT_LOGGING_EXTRA_LOGGERS=cardflow`` plus the levels
that setting cannot give, applied when ``tasks`` is imported (every flow imports it), so it holds
for the CLI, ``cardflow serve`` and worker-run deployments alike.
"""

from __future__ import annotations

import logging

#: libraries whose INFO lines (one per HTTP request, per dbt node, per GX metric) would drown a run's log
NOISY_LOGGERS = ("httpx", "httpcore", "botocore", "urllib3", "great_expectations", "pgserver")


class _InsideRun(logging.Filter):
    """Pass records made inside a flow or task run (the API handler needs the run id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "flow_run_id", None):
            return True
        from prefect.context import FlowRunContext, TaskRunContext

        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def capture_library_logs(level: int = logging.INFO) -> logging.Logger:
    """Send ``cardflow`` records at ``level`` and above to the current run's logs in the Prefect API.

    Does nothing if the ``cardflow`` logger already has an API handler (e.g. it is listed in
    PREFECT_LOGGING_EXTRA_LOGGERS, or this ran before). A level set explicitly on the logger (e.g.
    DEBUG by ``--verbose``) is kept.

    Returns:
        The ``cardflow`` logger.
    """
    from prefect.logging.handlers import APILogHandler

    logger = logging.getLogger("cardflow")
    if logger.level == logging.NOTSET:
        logger.setLevel(level)
    for name in NOISY_LOGGERS:
        noisy = logging.getLogger(name)
        if noisy.level == logging.NOTSET:
            noisy.setLevel(logging.WARNING)
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        handler = APILogHandler()
        handler.addFilter(_InsideRun())
        logger.addHandler(handler)
    return logger
