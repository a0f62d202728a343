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


def named_queries(name: str, **schemas: str) -> dict[str, str]:
    """Like :func:`named_statements`, with ``{raw}``/``{silver}``/``{gold}`` placeholders filled.

    ``schemas`` are validated identifiers from settings, never user input.
    """
    return {key: text.format(**schemas) for key, text in named_statements(name).items()}
