"""Bronze storage: one small interface, a local-directory and an S3 implementation.

Both stores take keys produced by :mod:`cardflow.bronze.layout`; the local store mirrors the S3 layout under
``CARDFLOW_DATA_DIR/lake`` so that switching is a setting, not a code change. Writes are atomic
(local: temp file + rename; S3: single PUT or multipart completed as one object).

Small mutable objects (the backfill state) are written with a **conditional write** instead:
:meth:`~BronzeStore.read_versioned` returns the bytes with a version token, and
:meth:`~BronzeStore.write_if_version` replaces them only if the token still matches (S3: ``If-Match``
on the ETag, ``If-None-Match: *`` for a first write; local: compare and rename under an exclusive
``flock``), so two writers racing on the same object cannot lose an update silently: the loser gets
:class:`~cardflow.errors.ConcurrentWriteError`.

Which store a run uses is decided in one place, :mod:`cardflow.backends.chooser` (a prefect-aws
``S3Bucket`` block, the ``S3_*`` variables, or the local lake). It hands this module a plain
:data:`BronzeLocation` (a directory or an :class:`S3Config`), so Bronze itself knows nothing about
Prefect, and the location can be pickled to worker processes that open their own store.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from cardflow.bronze.libc import libc_function
from cardflow.errors import ConcurrentWriteError, StorageError

logger = logging.getLogger(__name__)

KNOWN_FOLDERS = 1024
"""Folders the local store remembers as existing (more are forgotten: a forgotten one costs one mkdir)."""
MULTIPART_THRESHOLD = 16 * 1024 * 1024


@runtime_checkable
class BronzeStore(Protocol):
    """Where Bronze objects live. Keys are relative, ``/``-separated, built by ``cardflow.bronze.layout``."""

    def write_bytes(self, key: str, data: bytes, *, durable: bool = True) -> str:
        """Write ``data`` at ``key`` atomically (overwriting) and return the object's URI.

        ``durable=False`` lets a writer of many objects skip the per-object flush: the object is
        complete and visible at once, and durable after the next :meth:`sync`, which must come
        before anything refers to it (a manifest, the backfill state).
        """

    def sync(self) -> None:
        """Make every write so far durable (local: one ``syncfs``; S3: nothing, a PUT is durable)."""

    def read_bytes(self, key: str) -> bytes:
        """Return the object's bytes; raise :class:`StorageError` if it does not exist."""

    def list_keys(self, prefix: str = "", *, start_after: str | None = None) -> list[str]:
        """All keys starting with ``prefix``, sorted; with ``start_after`` only the keys after it
        (S3's ``StartAfter``: the listing itself starts there, so its cost follows what is new)."""

    def list_prefixes(self, prefix: str) -> list[str]:
        """The "folders" one level below ``prefix`` (which ends in ``/``), each ending in ``/``, sorted."""

    def exists(self, key: str) -> bool:
        """True when an object is stored at ``key``."""

    def uri(self, key: str) -> str:
        """A URI for humans and for warehouses (``file://`` or ``s3://``)."""

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and version token, or None when there is no object at ``key``."""

    def write_if_version(self, key: str, data: bytes, expected: str | None) -> str:
        """Write ``data`` only if the object's version is still ``expected`` (None: no object yet).

        Returns the new version. Raises :class:`ConcurrentWriteError` when another writer changed
        (or created) the object since ``expected`` was read; nothing is written then.
        """


def _may_hold(folder: str, prefix: str, start_after: str | None) -> bool:
    """Whether keys under ``folder`` (ending in ``/``) can start with ``prefix`` and sort after
    ``start_after`` (every key under it sorts before ``start_after`` when the folder does and is
    not a prefix of it)."""
    if not (folder.startswith(prefix) or prefix.startswith(folder)):
        return False
    return start_after is None or not (start_after > folder and not start_after.startswith(folder))


class LocalBronzeStore:
    """Bronze in a local directory (the embedded default)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        # folders known to exist (a mkdir per write costs a syscall and an exception); a long
        # backfill touches a folder per partition-hour, so only the recent ones are kept
        self._made: set[Path] = set()

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if key and not key.startswith("/") and "\\" not in key and all(p not in ("", ".", "..") for p in parts):
            # a plain relative key (all keys cardflow builds): no filesystem round trips per write
            return self.root.joinpath(*parts)
        path = (self.root / key).resolve()
        if self.root not in path.parents and path != self.root:
            raise StorageError(key, "key escapes the store root")
        return path

    def write_bytes(self, key: str, data: bytes, *, durable: bool = True) -> str:
        path = self._path(key)
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            if len(self._made) >= KNOWN_FOLDERS:
                self._made.clear()
            self._made.add(path.parent)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        except FileNotFoundError:  # the folder was removed behind our back
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(key)

    def sync(self) -> None:
        """One ``syncfs`` of the lake's file system: the data *and* the renames of every object
        written so far (an ``fsync`` per object costs a journal commit each: most of a backfill's
        write time on a busy disk)."""
        sync_filesystem(self.root)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(key, f"no such object under {self.root}") from exc

    def list_keys(self, prefix: str = "", *, start_after: str | None = None) -> list[str]:
        base = self.root / prefix if prefix else self.root
        # a prefix ending in "/" is a folder; any other prefix may also match names beside its
        # last segment (S3 semantics: "a" lists "a0" and "a/0"), so list from its parent folder
        start = base if not prefix or prefix.endswith("/") else base.parent
        if not start.is_dir():
            return []
        top = start.relative_to(self.root).as_posix()
        if top != "." and not _may_hold(top + "/", prefix, start_after):
            return []  # the whole folder sorts before start_after
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            folder = Path(dirpath).relative_to(self.root).as_posix()
            folder = "" if folder == "." else folder + "/"
            # descend only into folders that can hold a key under the prefix and after start_after
            dirnames[:] = [d for d in dirnames if _may_hold(f"{folder}{d}/", prefix, start_after)]
            names = filenames
            if start_after is not None and start_after.startswith(folder):
                # same folder: comparing names compares keys (an unpruned folder whose name is not
                # a prefix of start_after sorts wholly after it: every key in it is new)
                tail = start_after[len(folder) :]
                names = [n for n in names if n > tail]
            if not folder.startswith(prefix):  # the prefix's parent folder
                names = [n for n in names if (folder + n).startswith(prefix)]
            keys += [folder + n for n in names if not n.startswith(".tmp-")]
        return sorted(keys)

    def list_prefixes(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        return sorted(f"{prefix}{p.name}/" for p in folder.iterdir() if p.is_dir())

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return data, _content_version(data)

    def write_if_version(self, key: str, data: bytes, expected: str | None) -> str:
        """Compare and rename under an exclusive ``flock`` on a lock file beside the object.

        Every conditional writer of ``key`` takes the same lock, so the check of the current
        version and the rename that replaces it are one step for them (plain :meth:`write_bytes`
        does not take it: objects written that way are immutable by design).
        """
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.parent / f".tmp-lock-{path.name}"
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = self.read_versioned(key)
                found = current[1] if current else None
                if found != expected:
                    raise ConcurrentWriteError(key, expected, found)
                self.write_bytes(key, data)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return _content_version(data)

    def __repr__(self) -> str:
        return f"LocalBronzeStore({str(self.root)!r})"


def sync_filesystem(path: Path) -> None:
    """Flush the file system holding ``path`` to disk (Linux ``syncfs``; elsewhere ``sync``)."""
    syncfs = libc_function("syncfs")
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise StorageError(str(path), f"syncfs failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def _content_version(data: bytes) -> str:
    """The local store's version token: the content's SHA-256 (like an ETag, changes with the bytes)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class S3Config:
    """Everything boto3 needs to reach the Bronze bucket: no Prefect types, picklable.

    Built by the backend chooser from a prefect-aws ``S3Bucket`` block or from the ``S3_*``/``AWS_*``
    variables. Unset credentials mean boto3's default chain (instance role, ``~/.aws``).
    ``session_factory`` is for credentials boto3 cannot express as keys (a block that assumes an
    IAM role): it returns a ready ``boto3.Session``.
    """

    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    profile_name: str | None = None
    verify: bool | str | None = None
    use_ssl: bool | None = None
    session_factory: Callable[[], Any] | None = None

    def session(self) -> Any:
        """A boto3 session holding these credentials."""
        if self.session_factory is not None:
            return self.session_factory()
        import boto3

        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key.get_secret_value() if self.secret_access_key else None,
            aws_session_token=self.session_token.get_secret_value() if self.session_token else None,
            profile_name=self.profile_name,
            region_name=self.region,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``session.client("s3", ...)`` beyond the credentials."""
        kwargs: dict[str, Any] = {}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.use_ssl is False:
            kwargs["use_ssl"] = False
        if self.verify is not None:
            kwargs["verify"] = self.verify
        return kwargs

    def __repr__(self) -> str:  # never show keys
        return f"S3Config(bucket={self.bucket!r}, region={self.region!r}, endpoint_url={self.endpoint_url!r})"


class S3BronzeStore:
    """Bronze in an S3 bucket (or an S3-compatible store via its endpoint URL).

    Transient errors are retried by botocore's standard retry mode (throttling, 5xx, connection
    resets); 4xx errors surface at once.
    """

    def __init__(self, config: S3Config, *, client: Any | None = None) -> None:
        self.config = config
        self.bucket_name = config.bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            cfg = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=32)
            self._client = self.config.session().client("s3", config=cfg, **self.config.client_kwargs())
        return self._client

    def write_bytes(self, key: str, data: bytes, *, durable: bool = True) -> str:
        from boto3.s3.transfer import TransferConfig

        try:
            if len(data) >= MULTIPART_THRESHOLD:
                cfg = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=4)
                self.client.upload_fileobj(BytesIO(data), self.bucket_name, key, Config=cfg)
            else:
                self.client.put_object(Bucket=self.bucket_name, Key=key, Body=data)
        except Exception as exc:
            raise StorageError(key, f"upload to s3://{self.bucket_name} failed: {exc}") from exc
        return self.uri(key)

    def sync(self) -> None:
        """Nothing to do: S3 stores an object durably before its PUT returns."""

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket_name, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise StorageError(key, f"no such object in s3://{self.bucket_name}") from exc

    def list_keys(self, prefix: str = "", *, start_after: str | None = None) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        extra = {"StartAfter": start_after} if start_after else {}
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=prefix, **extra):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def list_prefixes(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        prefixes: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=prefix, Delimiter="/"):
            prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        return sorted(prefixes)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket_name}/{key}"

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket_name, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return response["Body"].read(), str(response["ETag"])

    def write_if_version(self, key: str, data: bytes, expected: str | None) -> str:
        """One PUT with ``If-Match: <ETag>`` (or ``If-None-Match: *``): S3 checks and writes atomically."""
        from botocore.exceptions import ClientError

        condition = {"IfMatch": expected} if expected is not None else {"IfNoneMatch": "*"}
        try:
            response = self.client.put_object(Bucket=self.bucket_name, Key=key, Body=data, **condition)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409", "NoSuchKey"):
                current = self.read_versioned(key)
                raise ConcurrentWriteError(key, expected, current[1] if current else None) from exc
            raise StorageError(key, f"conditional upload to s3://{self.bucket_name} failed: {exc}") from exc
        return str(response["ETag"])

    def __repr__(self) -> str:
        return f"S3BronzeStore({self.bucket_name!r})"


BronzeLocation = Path | S3Config
"""Where Bronze lives: the local lake's root directory, or an S3 bucket."""


def open_store(location: BronzeLocation) -> BronzeStore:
    """The store for ``location`` (from :func:`cardflow.backends.chooser.resolve_backends`)."""
    if isinstance(location, S3Config):
        return S3BronzeStore(location)
    return LocalBronzeStore(location)
