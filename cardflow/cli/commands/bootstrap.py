"""``cardflow bootstrap``: create the event store schema and the warehouse objects (idempotent; nothing is dropped).

The event store (database, ``events`` table, ``(inserted_at, event_id)`` index) is created here and
nowhere else in production: the backfill and the reconciliation only read it. ``--event-store`` or
``--warehouse`` restricts the run to one target; with neither, both are bootstrapped.
"""

from __future__ import annotations

import argparse

from cardflow.settings import Settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bootstrap",
        help="create the event store schema (sql/event_store_ddl.sql) and apply the warehouse DDL "
        "(DuckDB or Snowflake); idempotent, never drops",
    )
    p.add_argument(
        "--event-store",
        action="store_true",
        help="only the event store: database, events table and its (inserted_at, event_id) index",
    )
    p.add_argument("--warehouse", action="store_true", help="only the warehouse objects")
    p.add_argument("--print-sql", action="store_true", help="print the statements instead of running them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    both = not (args.event_store or args.warehouse)
    if args.event_store or both:
        _event_store(settings, print_sql=args.print_sql)
    if args.warehouse or both:
        _warehouse(settings, print_sql=args.print_sql)
    return 0


def _event_store(settings: Settings, *, print_sql: bool) -> None:
    from cardflow.sources.eventstore import store as eventstore

    if print_sql:
        print(f"-- event store ({eventstore.DDL_FILE}), in database {settings.postgres_db}")
        print(";\n\n".join(eventstore.ddl_statements(settings)) + ";\n")
        return
    result = eventstore.bootstrap_event_store(settings)
    if result.database_created:
        print(f"bootstrap (event store): created database {settings.postgres_db}")
    if result.statements:
        print(f"bootstrap (event store): {len(result.statements)} statements applied ({result.where})")
    else:
        print(f"bootstrap (event store): table and keyset index already exist ({result.where})")


def _warehouse(settings: Settings, *, print_sql: bool) -> None:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.warehouse.base import ddl_statements, sql_values

    backends = resolve_backends(settings, needs={"bronze", "warehouse", "load"})
    settings = backends.settings
    if print_sql:
        if backends.warehouse == "snowflake":
            values = sql_values(
                settings,
                stage_url=str(backends.stage_url),
                aws_role_arn=settings.snowflake_storage_aws_role_arn or "<SNOWFLAKE_STORAGE_AWS_ROLE_ARN>",
            )
            statements = ddl_statements("snowflake_ddl.sql", values)
        else:
            statements = ddl_statements("duckdb_ddl.sql", {"raw": settings.snowflake_raw_schema})
        print(f"-- warehouse ({backends.warehouse})")
        print(";\n\n".join(statements) + ";")
        return
    with backends.open_loader() as warehouse:
        result = warehouse.bootstrap()
    print(f"bootstrap ({backends.warehouse}): {len(result.executed)} statements applied")
    for statement, reason in result.skipped:
        print(f"  skipped: {statement.splitlines()[0]} -- {reason}")
