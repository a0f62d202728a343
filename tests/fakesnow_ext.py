"""A fakesnow server taught what cardflow's Snowflake path uses and fakesnow 0.12.1 lacks.

fakesnow 0.12.1 (the Snowflake stand-in, DuckDB underneath) runs COPY INTO with load history,
FILES=(...) and ``file://`` stages, but not:

1. **COPY transformations over JSON** (``FROM (SELECT $1:event_id::VARCHAR ... FROM @stage)``):
   it reads JSON with ``read_json_objects`` (one column ``json``) yet rewrites ``$1:key`` to a bare
   column ``key``, so the statement fails with "Referenced column event_id not found".
2. **METADATA$FILENAME / METADATA$FILE_ROW_NUMBER**: not implemented at all.
3. **Errors as SQL errors**: a DuckDB error other than HTTP/conversion (a truncated gzip, a bad
   JSON line) escapes as an HTTP 500, which the connector retries for minutes.

fakesnow also does not make a failing multi-file COPY atomic on its own; cardflow runs every COPY
inside an explicit BEGIN/COMMIT (ROLLBACK on error), which fakesnow maps to a DuckDB transaction.

Two more gaps matter when the production configuration runs against it unchanged (the end-to-end
deploy test):

4. **``s3://`` stages**: fakesnow reads ``s3://`` through DuckDB's httpfs, which this machine cannot
   install. When ``FAKESNOW_S3_ENDPOINT_URL`` is set (with the usual ``AWS_*`` variables), each
   ``s3://bucket/key`` a COPY names is fetched with boto3 from that S3-compatible endpoint (moto in
   the tests) into a temporary directory and read exactly as a ``file://`` file; the load history
   and METADATA$FILENAME keep the ``s3://`` URL. This plays the part of Snowflake's storage
   integration, which reads the bucket on the warehouse's side.
5. **CREATE WAREHOUSE**: fakesnow has no warehouses and its parser rejects the statement, so it is
   accepted as a no-op (what Snowflake does for ``IF NOT EXISTS`` on an existing warehouse), and
   ``cardflow bootstrap`` runs sql/snowflake_ddl.sql as production does.

This module patches exactly those spots, with Snowflake's documented semantics
(``$1:key::TYPE`` extracts the scalar, bare ``$1:key`` keeps the VARIANT; METADATA$FILENAME is the
file's path inside the stage; FILE_ROW_NUMBER counts from 1; a bad file is a SQL error), then
starts fakesnow's own server. The production SQL sent to it is unchanged.

Run: ``python -m tests.fakesnow_ext -p PORT`` (same arguments as ``python -m fakesnow -s``), with
``FAKESNOW_S3_ENDPOINT_URL=http://127.0.0.1:PORT`` to read ``s3://`` stages from that endpoint.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import fakesnow.copy_into as fs_copy
import fakesnow.instance as fs_instance
import fakesnow.transforms.stage as fs_stage
import snowflake.connector.errors
from sqlglot import exp

_DOLLAR1 = exp.Parameter(this=exp.Literal(this="1", is_string=False))
_METADATA = ("METADATA$FILENAME", "METADATA$FILE_ROW_NUMBER")
_current_source: dict[str, str] = {"url": ""}

#: S3-compatible endpoint that ``s3://`` stage files are read from (unset: fakesnow's own httpfs path)
S3_ENDPOINT_ENV = "FAKESNOW_S3_ENDPOINT_URL"
#: statements fakesnow cannot parse and Snowflake would accept without effect here
NOP_STATEMENTS = [r"\s*CREATE\s+WAREHOUSE\s+IF\s+NOT\s+EXISTS\b"]
_downloads = threading.local()

_original_source_urls = fs_copy._source_urls
_original_copy_into = fs_copy.copy_into
_original_connect_fn = fs_instance.FakeSnow.connect


def _source_urls(source: str, files: list[str]) -> list[str]:
    """Remember the stage root so METADATA$FILENAME can be made relative to it."""
    _current_source["url"] = source.rstrip("/") + "/"
    return _original_source_urls(source, files)


def _rewrite_select(select: exp.Select) -> exp.Select:
    """``$1:k::T`` -> ``json ->> '$.k'`` cast to T; bare ``$1:k`` -> ``json -> '$.k'``; quote METADATA$."""
    for node in list(select.find_all(exp.JSONExtract, exp.JSONExtractScalar)):
        if node.this != _DOLLAR1:
            continue
        keys = [k.this for k in node.expression.find_all(exp.JSONPathKey)] if node.expression else []
        path = exp.Literal.string("$." + ".".join(keys))
        column = exp.column("json", quoted=True)
        parent = node.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        scalar = isinstance(node, exp.JSONExtractScalar) or (
            isinstance(parent, exp.Cast) and not parent.to.is_type("json")
        )
        kind = exp.JSONExtractScalar if scalar else exp.JSONExtract
        node.replace(kind(this=column, expression=path))
    for column in list(select.find_all(exp.Column)):
        if column.name.upper() in _METADATA:
            column.replace(exp.column(column.name.upper(), quoted=True))
    return select


def _s3_local_copy(url: str) -> str:
    """Fetch ``s3://bucket/key`` from FAKESNOW_S3_ENDPOINT_URL into this COPY's temporary directory.

    Raises:
        ProgrammingError: the endpoint is not configured or the object cannot be read (Snowflake
            reports an unreadable stage file as a SQL error too).
    """
    import boto3
    import botocore.exceptions

    endpoint = os.environ.get(S3_ENDPOINT_ENV)
    directory = getattr(_downloads, "directory", None)
    if not endpoint or directory is None:
        raise snowflake.connector.errors.ProgrammingError(
            msg=f"cannot read {url}: start the stand-in with {S3_ENDPOINT_ENV} set to read s3:// stages",
            errno=91016,
            sqlstate="22000",
        )
    parsed = urlparse(url)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    target = Path(directory) / bucket / key
    target.parent.mkdir(parents=True, exist_ok=True)
    client = boto3.client("s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))
    try:
        client.download_file(bucket, key, str(target))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise snowflake.connector.errors.ProgrammingError(
            msg=f"Remote file '{url}' was not found or cannot be read: {exc}", errno=91016, sqlstate="22000"
        ) from None
    return str(target)


class _ReadJSONWithMetadata(fs_copy.ReadJSON):
    def read_expression(self, url: str) -> exp.Expr:
        root = _current_source["url"]
        relative = url[len(root) :] if root and url.startswith(root) else url
        if url.startswith("file:"):
            path = fs_stage.file_path(url)
        elif url.startswith("s3:") and os.environ.get(S3_ENDPOINT_ENV):
            path = _s3_local_copy(url)
        else:
            path = url
        inner = exp.select(
            exp.column("json", quoted=True),
            exp.alias_(exp.Literal.string(relative), "METADATA$FILENAME", quoted=True),
            exp.alias_(exp.Window(this=exp.RowNumber()), "METADATA$FILE_ROW_NUMBER", quoted=True),
        ).from_(
            exp.func(
                "read_json_objects",
                exp.Literal.string(str(path)),
                exp.EQ(this=exp.var("format"), expression=exp.Literal.string("newline_delimited")),
                exp.EQ(this=exp.var("hive_partitioning"), expression=exp.false()),
            )
        )
        return exp.Subquery(this=inner)


def _copy_into(duck_conn: Any, *args: Any, **kwargs: Any) -> str:
    """fakesnow's COPY, with DuckDB errors reported as a Snowflake SQL error.

    fakesnow maps only HTTP/conversion errors; any other becomes an HTTP 500 that the connector
    retries for minutes. Snowflake reports a bad file as a SQL error: do the same. (Atomicity comes
    from the caller's explicit transaction, which cardflow always opens around a COPY.) ``s3://``
    files fetched for this statement are deleted when it ends.
    """
    with tempfile.TemporaryDirectory(prefix="fakesnow-s3-") as directory:
        _downloads.directory = directory
        try:
            return _original_copy_into(duck_conn, *args, **kwargs)
        except duckdb.Error as exc:
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"Error parsing staged file: {exc}", errno=100069, sqlstate="22000"
            ) from None
        finally:
            _downloads.directory = None


def _connect_with_nops(self: Any, database: str | None = None, schema: str | None = None, **kwargs: Any) -> Any:
    """Every session treats :data:`NOP_STATEMENTS` as no-ops (besides any the client asked for)."""
    kwargs["nop_regexes"] = [*(kwargs.get("nop_regexes") or []), *NOP_STATEMENTS]
    return _original_connect_fn(self, database, schema, **kwargs)


def apply() -> None:
    """Install the patches into the fakesnow modules of this process."""
    fs_copy._source_urls = _source_urls
    fs_copy._strip_json_extract = _rewrite_select
    fs_copy.ReadJSON = _ReadJSONWithMetadata
    fs_copy.copy_into = _copy_into
    import fakesnow.cursor as fs_cursor

    fs_cursor.copy_into = _copy_into
    fs_instance.FakeSnow.connect = _connect_with_nops


def main(argv: list[str] | None = None) -> int:
    import fakesnow.cli

    apply()
    return fakesnow.cli.main(["-s", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
