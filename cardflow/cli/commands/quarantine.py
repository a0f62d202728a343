"""``cardflow quarantine list|release``: what was set aside and why, and putting held events back.

Two kinds of quarantine, one listing:

* **Bronze** (``<prefix>/_quarantine/``): events the contract refused at landing or backfill
  (``missing_field``, ``decimal_out_of_range``, ``conflicting_duplicate``, ...). They never reach RAW.
* **Held** (``RAW.EVENTS_HELD``): events a failed quality gate held back
  (:mod:`cardflow.quality.holdback`); Silver skips them so the next run publishes the rest.
  ``release`` puts one back: run the transform with ``--full-refresh`` afterwards to rebuild it.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("quarantine", help="list quarantined and gate-held events, release held ones")
    sub = p.add_subparsers(dest="quarantine_command", required=True)
    listing = sub.add_parser("list", help="one line per quarantined or held event: where, reason, detail")
    listing.add_argument("--held-only", action="store_true", help="only events held back by a failed gate")
    listing.set_defaults(func=run_list)
    release = sub.add_parser("release", help="put gate-held events back (then run the transform --full-refresh)")
    release.add_argument("event_ids", nargs="+")
    release.set_defaults(func=run_release)


def run_list(args: argparse.Namespace) -> int:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.bronze.writer import decode_lines
    from cardflow.quality.holdback import list_holds
    from cardflow.settings import get_settings

    settings = get_settings()
    backends = resolve_backends(settings, needs={"warehouse"} if args.held_only else {"warehouse", "bronze"})
    with backends.open_session() as warehouse:
        holds = list_holds(warehouse, settings.snowflake_raw_schema)
    for hold in holds:
        print(f"held\t{hold.event_id}\t{hold.reason}\t{hold.held_at}")
    shown = len(holds)
    if not args.held_only:
        store = backends.store()
        for key in sorted(store.list_keys(f"{settings.s3_prefix}/_quarantine/")):
            for line in decode_lines(store.read_bytes(key)):
                entry = json.loads(line)
                record = entry.get("record") or {}
                identity = entry.get("identity") or (record.get("event_id") if isinstance(record, dict) else None)
                print(f"bronze\t{identity}\t{entry.get('reason')}\t{entry.get('detail')}\t{key}")
                shown += 1
    print(f"{shown} quarantined or held event(s)")
    return 0


def run_release(args: argparse.Namespace) -> int:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.quality.holdback import release_holds
    from cardflow.settings import get_settings

    settings = get_settings()
    with resolve_backends(settings, needs={"warehouse"}).open_session() as warehouse:
        released = release_holds(warehouse, settings.snowflake_raw_schema, args.event_ids)
    print(
        f"released {released} held event(s); rebuild them with a full refresh: prefect deployment run "
        "dbt_transform_and_test/dbt_transform_and_test -p full_refresh=true"
    )
    return 0
