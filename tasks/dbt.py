"""prefect-dbt's runner as the :data:`~cardflow.transform.dbt.DbtInvoker` of the transform tasks.

With CARDFLOW_DBT_NODE_TASKS on, each dbt node of a layer build shows up as a Prefect task run; off
(the default), the library's plain ``dbtRunner`` runs in one step and the flow's artifact lists
every node of each layer build with its status and time (``DbtRunSummary.node_rows``): per-node
visibility at no per-node cost (docs/monitoring.md, "dbt nodes", has the measured difference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cardflow.settings import Settings
from cardflow.transform.dbt import DbtInvoker


def prefect_dbt_invoker(args: list[str], project: Path, profiles: Path) -> Any:
    """Run one dbt command through ``PrefectDbtRunner`` (assets off: cardflow declares its own)."""
    from prefect_dbt.core.runner import PrefectDbtRunner
    from prefect_dbt.core.settings import PrefectDbtSettings

    # Measured on the 1M-event project (88 nodes, nothing new): plain dbt ~15 s (freshness + build),
    # this runner ~51 s. Lowering its log_level to WARN brought that to ~24 s but dbt then stops
    # sending the NodeStart events the per-node tasks are made from, so no node was visible any more;
    # kept at the default. That overhead is why the runner is opt-in (CARDFLOW_DBT_NODE_TASKS=true);
    # by default plain dbtRunner runs and the artifact lists every node and every warning.
    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(project_dir=project, profiles_dir=profiles),
        raise_on_failure=False,
        disable_assets=True,
    )
    return runner.invoke(args)


def dbt_invoker(settings: Settings) -> DbtInvoker | None:
    """The invoker the settings ask for: prefect-dbt's (per-node tasks) or None (plain dbt)."""
    return prefect_dbt_invoker if settings.dbt_node_tasks else None
