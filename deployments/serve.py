"""Serve every cardflow deployment from one process: a single machine without a work pool or worker.

The deployments are built from ``prefect.yaml`` itself (entrypoint, parameters, schedules with
their time zones and per-schedule parameters, concurrency limit, tags, event triggers), so
``cardflow serve`` and ``prefect deploy --all`` cannot drift apart. ``prefect.serve`` registers them
with the Prefect API in use (a server, Cloud, or -- for a laptop -- whatever PREFECT_API_URL says)
and runs their flow runs as subprocesses of this one.

``serve`` and ``prefect deploy --all`` are two ways to run the same deployments, never both against
one Prefect API: serving registers the same ``<flow>/<deployment>`` names, which would overwrite the
worker-pool deployments (their pool and pull steps, so the worker's runs crash), and a stopped
``serve`` pauses the schedules of every deployment it registered. :func:`serve_all` therefore
checks first and refuses (:class:`~cardflow.errors.DeploymentConflict`, naming each deployment and
what to do) when any of its names is held by a worker-pool deployment. Deployments that an earlier
``serve`` registered (no work pool) are its own and are served again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cardflow.errors import ConfigurationError, DeploymentConflict

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


def describe_spec(spec: DeploymentSpec) -> str:
    """One line for ``cardflow serve --list``: entrypoint, parameters, each schedule with its own
    parameters (e.g. the nightly ``{"full_refresh": true}``) and the event triggers."""

    def params(values: dict[str, Any]) -> str:
        return json.dumps(values, sort_keys=True, default=str)

    schedules = []
    for entry in spec.schedules:
        text = f"{entry.get('cron')} {entry.get('timezone') or 'UTC'}"
        if not entry.get("active", True):
            text += " (inactive)"
        if entry.get("parameters"):
            text += f" with {params(entry['parameters'])}"
        schedules.append(text)
    triggers = ", ".join(e for t in spec.triggers for e in t.get("expect", []))
    return (
        f"{spec.name}: {spec.entrypoint} | parameters: {params(spec.parameters)} | "
        f"schedules: {'; '.join(schedules) or '-'} | triggers: {triggers or '-'}"
    )


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


def worker_deployments_in_the_way(deployments: list[Any]) -> dict[str, str]:
    """Deployments on the Prefect API with the same ``<flow>/<name>`` as ``deployments`` that belong
    to a work pool (``prefect deploy``), as ``{"flow/name": "pool"}``; empty when serving is safe."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            full_name = f"{deployment.flow_name}/{deployment.name}"
            try:
                existing = client.read_deployment_by_name(full_name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                found[full_name] = existing.work_pool_name
    return found


def refuse_if_deployed(deployments: list[Any]) -> None:
    """Does nothing if no worker-pool deployment holds one of the names ``deployments`` would take.

    Raises:
        DeploymentConflict: naming each such deployment and its pool, and the three ways out.
    """
    conflicts = worker_deployments_in_the_way(deployments)
    if not conflicts:
        return
    pools = sorted(set(conflicts.values()))
    names = [f"{name} (work pool {pool})" for name, pool in sorted(conflicts.items())]
    raise DeploymentConflict(
        names,
        "Either keep them and run a worker instead (`prefect worker start --pool "
        f"{pools[0]}`), or delete them first to serve from this process "
        f"(`prefect deployment delete {sorted(conflicts)[0]}`, and so on for each), or point "
        "`cardflow serve` at another Prefect server or workspace (PREFECT_API_URL). See "
        "docs/production.md, 'Worker or serve'.",
    )


def serve_all(path: Path = PREFECT_YAML, *, limit: int | None = None) -> None:
    """Register every deployment and run its scheduled/triggered runs here until interrupted.

    Raises:
        DeploymentConflict: the API already holds worker-pool deployments of the same names (nothing
            was registered, nothing paused).
    """
    from prefect import serve

    # entrypoints are recorded relative to the working directory; runs start from the checkout
    os.chdir(path.parent)
    deployments = build_deployments(path)
    refuse_if_deployed(deployments)
    logger.info("serving %d deployments: %s", len(deployments), ", ".join(d.name for d in deployments))
    serve(*deployments, limit=limit)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    serve_all()
