"""Alerts: the one place cardflow posts to Slack.

Two kinds of callers go through :func:`post_alert`:

* :func:`notify` -- quality warnings and failures raised by the gates (``kind`` + a short summary);
  :func:`notify_quality_warnings` sends all of a run's warnings as one such alert;
* :func:`alert_on_failure` -- the shared Prefect state hook attached (``on_failure`` and
  ``on_crashed``) to every flow, so any failed or crashed run posts one message.

The webhook is ``SLACK_WEBHOOK_URL`` or, when ``CARDFLOW_SLACK_BLOCK`` names one, a Prefect
``SlackWebhook`` block. With neither set nothing is sent (the run's logs and artifacts still carry
the details). The webhook URL is a secret: it is never logged, and every message is scrubbed of the
settings' secret values and of credentials embedded in URLs before it leaves the process.

A message carries: flow, deployment, run id and name, state, an error summary and a link to the run
in the Prefect UI (``PREFECT_UI_URL``; self-hosted servers derive it from ``PREFECT_API_URL``).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from cardflow.quality.warnings import QualityWarning, alert_summary
from cardflow.settings import Settings, get_settings

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State

logger = logging.getLogger(__name__)

AlertKind = Literal["quality_warning", "quality_failure", "flow_failure"]
_EMOJI: dict[str, str] = {
    "quality_warning": ":warning:",
    "quality_failure": ":rotating_light:",
    "flow_failure": ":red_circle:",
}
_MAX_TEXT = 3000  # Slack truncates section text at 3000 characters
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@", re.I)


@dataclass(frozen=True)
class AlertOutcome:
    """What an alert call did: ``sent`` is False when no webhook is configured or the post failed."""

    kind: str
    sent: bool
    detail: str


@dataclass(frozen=True)
class RunContext:
    """Where an alert comes from: the Prefect run, when there is one."""

    flow: str | None = None
    deployment: str | None = None
    run_id: str | None = None
    run_name: str | None = None
    state: str | None = None
    url: str | None = None

    def fields(self) -> dict[str, str]:
        """The non-empty fields, in message order."""
        values = {
            "flow": self.flow,
            "deployment": self.deployment or ("(none: ad hoc run)" if self.run_id else None),
            "run": f"{self.run_name} ({self.run_id})" if self.run_name else self.run_id,
            "state": self.state,
            "link": self.url,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Alert:
    """One message: a title line, a summary (the error or the quality findings) and run fields."""

    kind: AlertKind
    title: str
    summary: str
    context: RunContext = field(default_factory=RunContext)

    def payload(self, secrets: list[str]) -> dict[str, Any]:
        """Slack incoming-webhook JSON (``text`` for notifications, ``blocks`` for the layout).

        Every string is scrubbed of ``secrets`` and URL credentials.
        """
        fields = {k: scrub(v, secrets) for k, v in self.context.fields().items()}
        summary = scrub(self.summary, secrets)[:1500]
        title = scrub(self.title, secrets)
        lines = [f"{_EMOJI.get(self.kind, '')} *{title}*".strip(), *(f"*{k}*: {v}" for k, v in fields.items())]
        lines.append(f"*error*: {summary}" if self.kind == "flow_failure" else f"*summary*: {summary}")
        text = "\n".join(lines)[:_MAX_TEXT]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ]
        return {"text": text, "blocks": blocks, "cardflow": {"kind": self.kind, **fields, "summary": summary}}


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value replaced by ``***`` and ``user:password@`` removed from URLs."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold (passwords, keys, webhook URL), to scrub from messages."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
    return values


def webhook_url(settings: Settings) -> str | None:
    """The Slack webhook to post to: SLACK_WEBHOOK_URL, else the CARDFLOW_SLACK_BLOCK block, else None.

    Raises nothing: a block that cannot be loaded is logged (by name) and treated as unset, because
    an alert must never turn into a second failure.
    """
    if settings.slack_webhook_url is not None:
        return settings.slack_webhook_url.get_secret_value()
    if settings.slack_webhook_block:
        try:
            from prefect.blocks.notifications import SlackWebhook

            block = SlackWebhook.load(settings.slack_webhook_block, _sync=True)
        except Exception as exc:  # any load failure: missing block, API down, wrong type
            logger.error(
                "Slack block %r could not be loaded (%s): alert not sent; create it with `cardflow blocks`",
                settings.slack_webhook_block,
                type(exc).__name__,
            )
            return None
        return block.url.get_secret_value()
    return None


def post_alert(alert: Alert, settings: Settings, *, timeout: float = 10.0) -> AlertOutcome:
    """Post ``alert`` to the configured Slack webhook; the only function here that talks HTTP.

    Does nothing (``sent=False``) if no webhook is configured. A failed post is logged with its
    HTTP status or exception type and returned, never raised.
    """
    url = webhook_url(settings)
    if url is None:
        return AlertOutcome(alert.kind, False, "no SLACK_WEBHOOK_URL or CARDFLOW_SLACK_BLOCK configured")
    payload = alert.payload([*secret_values(settings), url])
    # urllib, not httpx: httpx logs every request URL at INFO, and this URL is the secret
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        logger.error("alert %s not delivered: webhook answered HTTP %d", alert.kind, exc.code)
        return AlertOutcome(alert.kind, False, f"webhook answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        logger.error("alert %s not delivered: %s", alert.kind, type(exc).__name__)
        return AlertOutcome(alert.kind, False, f"post failed: {type(exc).__name__}")
    logger.info("alert %s posted (HTTP %d)", alert.kind, status)
    return AlertOutcome(alert.kind, True, f"posted (HTTP {status})")


def notify(kind: AlertKind, summary: str, settings: Settings, *, timeout: float = 10.0) -> AlertOutcome:
    """Send one quality alert of ``kind`` with a short ``summary`` (no payloads, no secrets).

    When called inside a flow run the message names the flow, deployment, run and links to it.
    Does nothing (returns ``sent=False``) if no webhook is configured. Never raises: an alert must
    not turn a warning into a failure.
    """
    logger.warning("%s: %s", kind, summary)
    context = current_run_context()
    title = f"cardflow {kind.replace('_', ' ')}" + (f" in {context.flow}" if context.flow else "")
    alert = Alert(kind, title, summary, context)
    outcome = post_alert(alert, settings, timeout=timeout)
    _emit_event(alert, settings, posted=outcome.sent)
    return outcome


def held_summary(gate: str, holds: list[Any]) -> str:
    """What a failed gate held back and what to do, for its one alert ("" if nothing was held).

    ``holds`` are :class:`cardflow.quality.holdback.Hold` values (event_id, reason).
    """
    if not holds:
        return ""
    reasons: dict[str, int] = {}
    for hold in holds:
        reasons[hold.reason] = reasons.get(hold.reason, 0) + 1
    return (
        f"{len(holds)} event(s) held back in RAW.EVENTS_HELD "
        f"({'; '.join(f'{r}: {n}' for r, n in sorted(reasons.items()))}); the next run publishes "
        "everything else. Review with `cardflow quarantine list`; send a corrected event (new event_id, "
        "later inserted_at), or `cardflow quarantine release <event_id>` and a full-refresh transform if "
        f"the {gate} gate was wrong."
    )


def _emit_event(alert: Alert, settings: Settings, *, posted: bool) -> None:
    """Emit ``cardflow.<kind>`` so server/Cloud automations can react (deployments/automations/).

    The resource carries ``cardflow.posted`` ("true"/"false"): the shipped backstop automation
    notifies only for events this process could not post itself, so nothing is announced twice.
    Best effort: without a Prefect API the event is dropped, never raised.
    """
    try:
        from prefect.events import emit_event

        fields = alert.payload(secret_values(settings))["cardflow"]
        emit_event(
            event=f"cardflow.{alert.kind}",
            resource={
                "prefect.resource.id": f"cardflow.quality.{alert.context.flow or 'adhoc'}",
                "cardflow.posted": "true" if posted else "false",
            },
            payload={k: fields.get(k) for k in ("flow", "deployment", "run", "state", "link", "summary")},
        )
    except Exception as exc:  # events are a convenience for automations, not the alert itself
        logger.debug("quality event not emitted: %s", type(exc).__name__)


def current_run_context() -> RunContext:
    """Flow, deployment and run of the flow run this code runs in (empty outside a run)."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return RunContext()
    state = ctx.flow_run.state
    return run_context(ctx.flow.name if ctx.flow else None, ctx.flow_run, state.name if state else None)


def run_context(flow_name: str | None, flow_run: FlowRun, state_name: str | None) -> RunContext:
    """Describe ``flow_run``: its deployment's name is read from the API when the run has one."""
    from prefect.utilities.urls import url_for

    deployment: str | None = None
    if flow_run.deployment_id is not None:
        deployment = _deployment_name(flow_run.deployment_id)
    try:
        url = url_for(flow_run)
    except Exception:  # a link is a courtesy; never fail the alert over it
        url = None
    return RunContext(
        flow=flow_name,
        deployment=deployment,
        run_id=str(flow_run.id),
        run_name=flow_run.name,
        state=state_name,
        url=url or None,
    )


def _deployment_name(deployment_id: Any) -> str:
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            deployment = client.read_deployment(deployment_id)
            flow = client.read_flow(deployment.flow_id)
        return f"{flow.name}/{deployment.name}"
    except Exception as exc:  # the id is still useful when the API cannot answer
        logger.debug("deployment %s not readable: %s", deployment_id, type(exc).__name__)
        return str(deployment_id)


def error_summary(state: State) -> str:
    """``ExceptionType: message`` of a failed state (its message when there is no exception)."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as read_error:  # result storage unreachable: fall back to the state message
        exc = read_error if state.message is None else None
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return state.message or state.name or "unknown error"


def _settings_of_run() -> Settings:
    """The settings the failing run was given (a ``settings`` parameter), else the environment's."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    candidate = (ctx.parameters or {}).get("settings") if ctx is not None else None
    return candidate if isinstance(candidate, Settings) else get_settings()


def alert_on_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """Prefect state hook (``on_failure`` and ``on_crashed``): post one alert for a failed run.

    Subflow runs stay quiet: their exception propagates to the parent, whose own hook reports it
    (with the stage named in the error), so one failure is one message. A subflow failure that the
    parent retries successfully is therefore not alerted at all -- it was transient and handled.
    """
    if flow_run.parent_task_run_id is not None:
        logger.info("subflow %s failed; the parent run reports it", flow_run.name)
        mark_alerted(flow_run, "reported by its parent run")
        return
    try:
        settings = _settings_of_run()
        context = run_context(flow.name, flow_run, state.name)
        title = f"cardflow flow run {state.name.lower()}: {flow.name}"
        outcome = post_alert(Alert("flow_failure", title, error_summary(state), context), settings)
        if outcome.sent:
            mark_alerted(flow_run, "posted to Slack by the flow's hook")
    except Exception as exc:  # a hook must never raise; say what went wrong without details
        logger.error("failure alert for run %s not sent: %s", flow_run.id, type(exc).__name__)


ALERTED_EVENT = "cardflow.flow_run.alerted"


def mark_alerted(flow_run: FlowRun, how: str) -> None:
    """Emit ``cardflow.flow_run.alerted`` for ``flow_run``: its failure has been reported.

    The backstop automation (``deployments/automations/cardflow_alerts.yaml``) notifies for a failed
    or crashed run only when this event does not follow within its window -- i.e. when no hook could
    run (dead worker machine, unloadable flow code) or the hook could not post. Best effort, never
    raises; the events worker flushes at process exit, so a hook process that ends right after
    still delivers it.
    """
    try:
        from prefect.events import emit_event

        emit_event(
            event=ALERTED_EVENT,
            resource={"prefect.resource.id": f"prefect.flow-run.{flow_run.id}"},
            related=[{"prefect.resource.id": "prefect.tag.cardflow", "prefect.resource.role": "tag"}],
            payload={"how": how},
        )
    except Exception as exc:  # the alert itself went out (or was skipped on purpose); this is a receipt
        logger.debug("alerted event for run %s not emitted: %s", flow_run.id, type(exc).__name__)



def notify_quality_warnings(warnings: list[QualityWarning], settings: Settings) -> AlertOutcome | None:
    """Send ONE ``quality_warning`` alert (Slack post + ``cardflow.quality_warning`` event) for all of
    a run's warnings.

    Does nothing (returns None) if ``warnings`` is empty. Never raises.
    """
    if not warnings:
        return None
    return notify("quality_warning", alert_summary(warnings), settings)
