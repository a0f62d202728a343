"""``cardflow bootstrap``: create the warehouse objects (idempotent; nothing is dropped)."""

from __future__ import annotations

import argparse

from cardflow.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bootstrap", help="apply the warehouse DDL for the configured warehouse (DuckDB or Snowflake)"
    )
    p.add_argument("--print-sql", action="store_true", help="print the statements instead of running them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cardflow.backends.chooser import resolve_backends
    from cardflow.warehouse.base import ddl_statements, sql_values

    backends = resolve_backends(get_settings(), needs={"bronze", "warehouse", "load"})
    settings = backends.settings
    if args.print_sql:
        if backends.warehouse == "snowflake":
            values = sql_values(
                settings,
                stage_url=str(backends.stage_url),
                aws_role_arn=settings.snowflake_storage_aws_role_arn or "<SNOWFLAKE_STORAGE_AWS_ROLE_ARN>",
            )
            statements = ddl_statements("snowflake_ddl.sql", values)
        else:
            statements = ddl_statements("duckdb_ddl.sql", {"raw": settings.snowflake_raw_schema})
        print(";\n\n".join(statements) + ";")
        return 0
    with backends.open_loader() as warehouse:
        result = warehouse.bootstrap()
    print(f"bootstrap ({backends.warehouse}): {len(result.executed)} statements applied")
    for statement, reason in result.skipped:
        print(f"  skipped: {statement.splitlines()[0]} -- {reason}")
    return 0
