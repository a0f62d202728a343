"""Access to SQL files: SQL lives in dbt, in ``sql/`` or beside the module that runs it, never in Python strings.

``sql/`` holds what analysts and DBAs read (DDL, example queries, data-quality checks); a runtime
template (a COPY statement, the backfill's chunk query) sits beside its module, which passes
``beside=__file__``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


def sql_path(name: str, beside: str | None = None) -> Path:
    """Where ``name`` lives: beside the module file ``beside``, else in ``sql/``."""
    return (Path(beside).resolve().parent if beside else SQL_DIR) / name


@cache
def read_sql(name: str, beside: str | None = None) -> str:
    """The text of ``sql/<name>``, or of ``<name>`` beside the module file ``beside``."""
    return sql_path(name, beside).read_text(encoding="utf-8")


def split_statements(text: str) -> list[str]:
    """Split a SQL script on ``;`` at line ends, dropping comment-only chunks.

    Good enough for our own files, which keep one statement per ``;``-terminated block and put no
    semicolons inside string literals.
    """
    statements = []
    for chunk in text.split(";\n"):
        lines = [ln for ln in chunk.splitlines() if ln.strip() and not ln.strip().startswith("--")]
        if lines:
            statements.append("\n".join(lines).rstrip(";").strip())
    return statements


def named_statements(name: str, beside: str | None = None) -> dict[str, str]:
    """The statements of ``sql/<name>`` keyed by their ``-- name: <key>`` header line.

    A block runs from its header to the next header; comment lines and the final ``;`` are dropped.
    """
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in read_sql(name, beside).splitlines():
        stripped = line.strip()
        if stripped.startswith("-- name:"):
            current = stripped.split(":", 1)[1].strip()
            blocks[current] = []
        elif current is not None and stripped and not stripped.startswith("--"):
            blocks[current].append(line)
    return {key: "\n".join(lines).strip().rstrip(";").strip() for key, lines in blocks.items()}


def named_queries(name: str, beside: str | None = None, **schemas: str) -> dict[str, str]:
    """Queries of ``sql/<name>`` keyed by their ``-- name: <key>`` line, schema names filled in.

    ``schemas`` (validated identifiers from settings, never user input) map a schema key such as
    ``gold`` to the configured schema name. A query may name a schema either way:

    * as a placeholder, ``{gold}.dim_card``, for files only cardflow runs (``demo_summary.sql``);
    * literally by its default name, ``gold.dim_card`` (any case), for files analysts paste
      unchanged into DuckDB or Snowflake (``examples.sql``); the reference is rewritten to the
      configured name, so a deployment with SNOWFLAKE_GOLD_SCHEMA=ANALYTICS runs them too.
      Text inside single-quoted string literals is never rewritten.
    """
    return {
        key: qualify_schemas(text.format(**schemas), **schemas) for key, text in named_statements(name, beside).items()
    }


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def qualify_schemas(sql: str, **schemas: str) -> str:
    """Rewrite literal ``<key>.<object>`` references (any case) to ``<schemas[key]>.<object>``.

    Only a schema key standing alone before a dot and an identifier is rewritten (``gold.fct_orders``,
    not ``x.gold.y`` nor ``'Gold /50'``), and never inside single-quoted string literals. Does
    nothing when every configured name equals its key (the defaults).
    """
    patterns = [
        (re.compile(rf"(?<![\w.$]){re.escape(key)}\.(?=[A-Za-z_])", re.IGNORECASE), f"{value}.")
        for key, value in schemas.items()
        if value.lower() != key.lower()
    ]
    if not patterns:
        return sql
    out: list[str] = []
    position = 0
    for literal in _STRING_LITERAL.finditer(sql):
        out.append(_rewrite(sql[position : literal.start()], patterns))
        out.append(literal.group())
        position = literal.end()
    out.append(_rewrite(sql[position:], patterns))
    return "".join(out)


def _rewrite(code: str, patterns: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in patterns:
        code = pattern.sub(replacement, code)
    return code
