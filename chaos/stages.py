"""The batch stages the chaos harness runs (and kills) as their own processes, without Prefect.

``python -m chaos.stages load`` and ``python -m chaos.stages transform`` call the same library steps
the flows compose (:func:`cardflow.warehouse.load.load_files`; write-audit-publish of Silver then
Gold with dbt); the backfill is ``cardflow backfill --no-prefect``. The process lives exactly as
long as the stage, so a SIGKILL lands inside it. Configuration comes from the environment.
"""

from __future__ import annotations

import json
import sys

from cardflow.backends.chooser import resolve_backends
from cardflow.settings import get_settings


def load() -> dict[str, int]:
    from cardflow.warehouse.load import load_files, select_files

    backends = resolve_backends(get_settings(), needs={"bronze", "warehouse", "load"})
    store = backends.store()
    with backends.open_loader() as warehouse:
        warehouse.bootstrap()
        # the scheduled load's path: manifests after the load cursor (flows/load.py)
        selection = select_files(store, backends.settings, log=warehouse.manifest_log())
        summary = load_files(warehouse, store, selection)
    counts = summary.as_dict()
    if counts["files_failed"]:
        raise SystemExit(f"load: {counts['files_failed']} files failed")
    return {k: v for k, v in counts.items() if isinstance(v, int)}


def transform() -> dict[str, list[str]]:
    from cardflow.transform.wap import build_layer, publish_layers

    backends = resolve_backends(get_settings(), needs={"warehouse"})
    for layer in ("silver", "gold"):
        build_layer(layer, backends.settings, backends.target, backends.open_session)
    published = publish_layers(["silver", "gold"], backends.settings, backends.open_session)
    return {layer: sorted(models) for layer, models in published.items()}


def main(argv: list[str]) -> int:
    stages = {"load": load, "transform": transform}
    if len(argv) != 1 or argv[0] not in stages:
        print(f"usage: python -m chaos.stages {{{'|'.join(stages)}}}", file=sys.stderr)
        return 2
    print(json.dumps(stages[argv[0]]()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
