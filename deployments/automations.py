"""Prefect automations from ``deployments/automations/*.yaml``: what ``cardflow automations`` applies.

The YAML files are plain ``prefect automation create --from-file`` documents, except that a Slack
notification action's ``block_document_id`` says ``BLOCK_DOCUMENT_ID``: that id differs per server,
so it is looked up here from the SlackWebhook block named by CARDFLOW_SLACK_BLOCK (default
``cardflow-slack``, the name ``cardflow blocks`` saves). Applying is idempotent: an automation with
the same name is replaced.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from cardflow.errors import ConfigurationError
from cardflow.settings import Settings

logger = logging.getLogger(__name__)

AUTOMATIONS_DIR = Path(__file__).resolve().parent.parent / "deployments" / "automations"
BLOCK_PLACEHOLDER = "BLOCK_DOCUMENT_ID"


def read_definitions(directory: Path = AUTOMATIONS_DIR) -> list[dict[str, Any]]:
    """Every automation in the YAML files of ``directory``, as dicts."""
    definitions: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.y*ml")):
        document = yaml.safe_load(path.read_text()) or {}
        definitions += document.get("automations", []) if isinstance(document, dict) else document
    return definitions


def with_block_id(definition: dict[str, Any], block_document_id: str) -> dict[str, Any]:
    """``definition`` with every ``BLOCK_DOCUMENT_ID`` placeholder replaced by the real id."""
    actions = [
        {**a, "block_document_id": block_document_id} if a.get("block_document_id") == BLOCK_PLACEHOLDER else a
        for a in definition.get("actions", [])
    ]
    return {**definition, "actions": actions}


def slack_block_id(settings: Settings) -> str:
    """Id of the SlackWebhook block the automations notify through.

    Raises:
        ConfigurationError: the block does not exist (run ``cardflow blocks`` with SLACK_WEBHOOK_URL set).
    """
    from prefect.blocks.notifications import SlackWebhook

    from cardflow.backends.blocks import DEFAULT_SLACK_BLOCK

    name = settings.slack_webhook_block or DEFAULT_SLACK_BLOCK
    try:
        block = SlackWebhook.load(name, _sync=True)
    except ValueError as exc:
        raise ConfigurationError(
            "CARDFLOW_SLACK_BLOCK", f"no SlackWebhook block named {name!r}; create it with `cardflow blocks`"
        ) from exc
    return str(block._block_document_id)


def with_report_window(definition: dict[str, Any], seconds: int) -> dict[str, Any]:
    """``definition`` with the grace window of a proactive trigger (how long a hook has to report a
    failed run before the backstop alerts) set to ``seconds``; other automations are unchanged."""
    trigger = definition.get("trigger", {})
    if trigger.get("posture") != "Proactive":
        return definition
    return {**definition, "trigger": {**trigger, "within": seconds}}


def apply_automations(
    settings: Settings, directory: Path = AUTOMATIONS_DIR, *, report_window: int | None = None
) -> list[str]:
    """Create (or replace, by name) every automation defined in ``directory``.

    Args:
        report_window: seconds a hook has to report a failed or crashed run before the backstop
            alerts (default: the YAML's, 180 s); shorter means earlier alerts for runs no hook
            reported, at the risk of a duplicate when a hook is slower than that.

    Returns:
        The names of the automations applied.
    """
    if report_window is not None and report_window <= 0:
        raise ConfigurationError("--report-window", f"must be a positive number of seconds, not {report_window}")
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    block_id = slack_block_id(settings)
    applied = []
    with get_client(sync_client=True) as client:
        for definition in read_definitions(directory):
            if report_window is not None:
                definition = with_report_window(definition, report_window)
            automation = AutomationCore.model_validate(with_block_id(definition, block_id))
            for existing in client.read_automations_by_name(automation.name):
                client.delete_automation(existing.id)
            client.create_automation(automation)
            logger.info("automation %r applied", automation.name)
            applied.append(automation.name)
    return applied
