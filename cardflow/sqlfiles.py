"""Access to the SQL files under ``sql/`` (SQL lives there or in dbt, not in Python strings)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


@cache
def read_sql(name: str) -> str:
    """The text of ``sql/<name>``."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


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


def named_queries(name: str, **schemas: str) -> dict[str, str]:
    """Queries of ``sql/<name>`` keyed by their ``-- name: <key>`` line, placeholders filled.

    ``schemas`` fill ``{raw}``, ``{silver}``, ``{gold}`` style placeholders (validated identifiers
    from settings, never user input).
    """
    queries: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in read_sql(name).splitlines():
        if line.startswith("-- name:"):
            if current:
                queries[current] = "\n".join(lines).strip().rstrip(";")
            current, lines = line.split(":", 1)[1].strip(), []
        elif current and not line.startswith("--"):
            lines.append(line)
    if current:
        queries[current] = "\n".join(lines).strip().rstrip(";")
    return {key: text.format(**schemas) for key, text in queries.items()}


def named_statements(name: str) -> dict[str, str]:
    """The statements of ``sql/<name>`` keyed by their ``-- name: <key>`` header line.

    A block runs from its header to the next header; comment lines and the final ``;`` are dropped.
    """
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in read_sql(name).splitlines():
        stripped = line.strip()
        if stripped.startswith("-- name:"):
            current = stripped.split(":", 1)[1].strip()
            blocks[current] = []
        elif current is not None and stripped and not stripped.startswith("--"):
            blocks[current].append(line)
    return {key: "\n".join(lines).strip().rstrip(";").strip() for key, lines in blocks.items()}
