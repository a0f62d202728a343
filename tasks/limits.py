"""The Prefect global concurrency limit that keeps warehouse writers one at a time.

``medallion_pipeline`` holds one slot of :data:`WAREHOUSE_LIMIT` around each warehouse stage.
Where the limit does not exist nothing is enforced (Prefect logs a warning), so ephemeral and
fresh servers work unchanged; ``cardflow limits`` creates it.
"""

from __future__ import annotations

from typing import Literal

WAREHOUSE_LIMIT = "warehouse"
"""Name of the Prefect global concurrency limit the warehouse stages hold one slot of."""


def ensure_warehouse_limit(slots: int = 1) -> Literal["created", "updated"]:
    """Create the limit with ``slots`` slots, or set an existing one to ``slots`` and activate it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=WAREHOUSE_LIMIT, limit=slots))
            return "created"
        client.update_global_concurrency_limit(WAREHOUSE_LIMIT, GlobalConcurrencyLimitUpdate(limit=slots, active=True))
        return "updated"
