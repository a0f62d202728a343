"""Quality alerts: one small hook that a warning or failure goes through.

``notify(kind, summary, settings)`` posts a short Slack message when ``SLACK_WEBHOOK_URL`` is set and
does nothing else when it is not (the Prefect artifact and the run logs carry the details either
way). The URL is a secret: it is never logged, and errors name only the HTTP status.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Literal

from cardflow.settings import Settings

logger = logging.getLogger(__name__)

AlertKind = Literal["quality_warning", "quality_failure"]
_EMOJI: dict[str, str] = {"quality_warning": ":warning:", "quality_failure": ":rotating_light:"}


@dataclass(frozen=True)
class AlertOutcome:
    """What :func:`notify` did: ``sent`` is False when no webhook is configured or the post failed."""

    kind: str
    sent: bool
    detail: str


def notify(kind: AlertKind, summary: str, settings: Settings, *, timeout: float = 10.0) -> AlertOutcome:
    """Send one alert of ``kind`` with a short ``summary`` (no payloads, no secrets).

    Does nothing (returns ``sent=False``) if SLACK_WEBHOOK_URL is unset. A failed post is logged
    with its status and returned, never raised: an alert must not turn a warning into a failure.
    """
    logger.warning("%s: %s", kind, summary)
    if settings.slack_webhook_url is None:
        return AlertOutcome(kind, False, "no SLACK_WEBHOOK_URL configured")
    text = f"{_EMOJI.get(kind, '')} cardflow {kind.replace('_', ' ')}: {summary}"[:3000]
    # urllib, not httpx: httpx logs every request URL at INFO, and this URL is the secret
    request = urllib.request.Request(
        settings.slack_webhook_url.get_secret_value(),
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        logger.error("alert %s not delivered: webhook answered HTTP %d", kind, exc.code)
        return AlertOutcome(kind, False, f"webhook answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        logger.error("alert %s not delivered: %s", kind, type(exc).__name__)
        return AlertOutcome(kind, False, f"post failed: {type(exc).__name__}")
    return AlertOutcome(kind, True, f"posted (HTTP {status})")
