"""The RAW loader interface the load, bootstrap and replay see (:class:`RawLoader`), and shared SQL helpers.

Two implementations share it: :class:`cardflow.warehouse.duckdb.DuckDBLoader` (embedded default;
its own ``load_history`` table written in the same transaction as the rows) and
:class:`cardflow.warehouse.snowflake.SnowflakeLoader` (COPY INTO from the external stage; Snowflake's
load history). The backend chooser (:func:`cardflow.backends.chooser.Backends.open_loader`) picks one;
flows and tasks never branch on the backend themselves. The query session the quality steps use is
a different, smaller thing: :class:`cardflow.warehouse.connection.WarehouseSession`.

SQL lives in ``sql/``; :func:`render_sql` fills its ``{placeholders}`` from settings. Every value it
substitutes is a validated identifier or a pattern-checked literal (see ``cardflow.settings``), and
an unknown placeholder is an error rather than text left in the SQL. Values that come from data
(Bronze keys, file paths, model names) go through :func:`quote_literal` / :func:`plain_identifier`,
which escape for the dialect (Snowflake reads backslashes in string literals as escapes, DuckDB
does not) or refuse what they cannot write safely (control characters, odd identifiers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from cardflow.bronze.store import BronzeStore
from cardflow.errors import ConfigurationError, UnsafeSqlText
from cardflow.settings import Settings
from cardflow.sqlfiles import read_sql, split_statements

if TYPE_CHECKING:  # manifest_log imports quote_literal from here
    from cardflow.warehouse.manifest_log import ManifestLog

FileStatus = Literal["loaded", "already_loaded", "failed"]
SqlDialect = Literal["duckdb", "snowflake"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")

_PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_]+)\}(?!\})")


@dataclass(frozen=True)
class BronzeFile:
    """A Bronze object to load: its key and, when a manifest listed it, what it must contain."""

    key: str
    sha256: str | None = None
    rows: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class FileLoad:
    """The outcome for one file, one row of the load artifact.

    ``status`` is ``loaded`` (rows entered RAW in this run), ``already_loaded`` (the load history
    has it: nothing done) or ``failed`` (``error`` says why; the file is retried on the next run).
    """

    file_name: str
    status: FileStatus
    rows_parsed: int = 0
    rows_loaded: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DdlResult:
    """What bootstrap did: statements executed, and statements skipped with the reason."""

    executed: list[str]
    skipped: list[tuple[str, str]]


class RawLoader(Protocol):
    """What the load flows need from a warehouse: RAW.EVENTS objects and exactly-once file loads.

    Implementations are context managers (they own a connection) and are not shared between threads.
    """

    name: str

    def bootstrap(self) -> DdlResult:
        """Create the RAW objects (idempotent). Does nothing to objects that already exist."""

    def load(self, files: Sequence[BronzeFile], store: BronzeStore) -> list[FileLoad]:
        """Load each new file exactly once; one :class:`FileLoad` per input file, same order."""

    def reload(self, files: Sequence[BronzeFile], store: BronzeStore) -> list[FileLoad]:
        """Replace the RAW rows of ``files`` by a fresh load of them, atomically per file."""

    def manifest_log(self) -> ManifestLog:
        """The load cursor: which manifests this warehouse holds (created on first use)."""

    def raw_row_count(self) -> int:
        """Rows in RAW.EVENTS (for artifacts and checks)."""

    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> RawLoader: ...

    def __exit__(self, *exc: object) -> None: ...


def sql_values(settings: Settings, **extra: str) -> dict[str, str]:
    """Placeholder values from settings (all validated there) plus ``extra`` (already safe SQL)."""
    values = {
        "warehouse": settings.snowflake_warehouse,
        "database": settings.snowflake_database,
        "raw": settings.snowflake_raw_schema,
        "silver": settings.snowflake_silver_schema,
        "gold": settings.snowflake_gold_schema,
        "stage": settings.snowflake_stage,
        "integration": settings.snowflake_storage_integration,
        "file_format": settings.snowflake_file_format,
    }
    return values | extra


def render_sql(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` placeholders; ``{{``/``}}`` stand for literal braces.

    Raises:
        ConfigurationError: a placeholder has no value (names it and the file is wrong or a
            setting is missing).
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigurationError(name, "SQL placeholder has no value; it needs a setting that is not set")
        return values[name]

    return _PLACEHOLDER.sub(substitute, text).replace("{{", "{").replace("}}", "}")


def _refuse_control_characters(value: str) -> None:
    match = _CONTROL.search(value)
    if match:
        raise UnsafeSqlText(value, f"holds the control character {match.group()!r} at {match.start()}")


def quote_literal(value: str, dialect: SqlDialect) -> str:
    """``value`` as a string literal of ``dialect`` that reads back exactly as ``value``.

    DuckDB (standard SQL) only needs single quotes doubled. Snowflake also treats a backslash in a
    single-quoted literal as an escape (``'a\\'b'`` is ``a'b``), so backslashes are doubled first:
    a crafted key ending in a backslash can otherwise close the literal and change the statement.

    Raises:
        UnsafeSqlText: ``value`` holds a control character (NUL, newline, ...): refused, not escaped.
    """
    _refuse_control_characters(value)
    if dialect == "snowflake":
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


def plain_identifier(name: str) -> str:
    """``name`` unchanged if it is a plain identifier (letters, digits, ``_``, ``$``), else refused.

    Names that reach SQL unquoted and do not come from settings (dbt model names read from file
    names) pass through here, so a stray quote or dot cannot change a statement.

    Raises:
        UnsafeSqlText: ``name`` is not a plain identifier.
    """
    if not _PLAIN_IDENTIFIER.match(name):
        raise UnsafeSqlText(name, "is not a plain SQL identifier (letters, digits, _ and $)")
    return name


def ddl_statements(name: str, values: Mapping[str, str]) -> list[str]:
    """The rendered statements of ``sql/<name>``."""
    return [render_sql(statement, values) for statement in split_statements(read_sql(name))]


def statement_kind(statement: str) -> str:
    """``CREATE WAREHOUSE``, ``CREATE TABLE`` ...: the first words up to the object name."""
    words = statement.split()
    kind = words[:3] if len(words) > 2 and words[1].upper() in ("STORAGE", "FILE") else words[:2]
    return " ".join(kind).upper()
