"""Serve every cardflow deployment from one process: a single machine without a work pool or worker.

The deployments are built from ``prefect.yaml`` itself (entrypoint, parameters, schedules with
their time zones and per-schedule parameters, concurrency limit, tags, event triggers), so
``cardflow serve`` and ``prefect deploy --all`` cannot drift apart. ``prefect.serve`` registers them
with the Prefect API in use (a server, Cloud, or -- for a laptop -- whatever PREFECT_API_URL says)
and runs their flow runs as subprocesses of this one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cardflow.errors import ConfigurationError

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


@dataclass(frozen=True)
class DeploymentSpec:
    """One ``deployments:`` entry of prefect.yaml, as read (anchors resolved)."""

    name: str
    entrypoint: str
    parameters: dict[str, Any]
    schedules: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    tags: list[str]
    description: str | None
    concurrency_limit: int | None


def read_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """The deployments declared in ``path``.

    Raises:
        ConfigurationError: the file is missing or a deployment has no name/entrypoint.
    """
    if not path.is_file():
        raise ConfigurationError(str(path), "prefect.yaml not found; run from a cardflow checkout")
    document = yaml.safe_load(path.read_text()) or {}
    specs = []
    for index, entry in enumerate(document.get("deployments") or []):
        if not entry.get("name") or not entry.get("entrypoint"):
            raise ConfigurationError(str(path), f"deployments[{index}] needs a name and an entrypoint")
        limit = entry.get("concurrency_limit")
        specs.append(
            DeploymentSpec(
                name=entry["name"],
                entrypoint=entry["entrypoint"],
                parameters=dict(entry.get("parameters") or {}),
                schedules=list(entry.get("schedules") or []),
                triggers=list(entry.get("triggers") or []),
                tags=list(entry.get("tags") or []),
                description=entry.get("description"),
                concurrency_limit=limit.get("limit") if isinstance(limit, dict) else limit,
            )
        )
    return specs


def _schedules(spec: DeploymentSpec) -> list[Any]:
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    schedules = []
    for entry in spec.schedules:
        if "cron" not in entry:
            raise ConfigurationError(spec.name, f"only cron schedules are served; got {sorted(entry)}")
        schedules.append(
            DeploymentScheduleCreate(
                schedule=CronSchedule(cron=entry["cron"], timezone=entry.get("timezone") or "UTC"),
                active=bool(entry.get("active", True)),
                parameters=entry.get("parameters") or {},
            )
        )
    return schedules


def _triggers(spec: DeploymentSpec) -> list[Any]:
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    return [adapter.validate_python(entry) for entry in spec.triggers]


def build_deployments(path: Path = PREFECT_YAML) -> list[Any]:
    """``RunnerDeployment`` objects for every deployment in prefect.yaml (nothing is registered yet)."""
    from prefect.flows import load_flow_from_entrypoint

    deployments = []
    for spec in read_specs(path):
        flow = load_flow_from_entrypoint(str(path.parent / spec.entrypoint), use_placeholder_flow=False)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                parameters=spec.parameters,
                schedules=_schedules(spec),
                triggers=_triggers(spec),
                tags=spec.tags,
                description=spec.description,
                concurrency_limit=spec.concurrency_limit,
            )
        )
    return deployments


def serve_all(path: Path = PREFECT_YAML, *, limit: int | None = None) -> None:
    """Register every deployment and run its scheduled/triggered runs here until interrupted."""
    from prefect import serve

    # entrypoints are recorded relative to the working directory; runs start from the checkout
    os.chdir(path.parent)
    deployments = build_deployments(path)
    logger.info("serving %d deployments: %s", len(deployments), ", ".join(d.name for d in deployments))
    serve(*deployments, limit=limit)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    serve_all()
