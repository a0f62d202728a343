"""Bronze storage: one small interface, a local-directory and an S3 implementation.

Both stores take keys produced by :mod:`cardflow.bronze.layout`; the local store mirrors the S3 layout under
``CARDFLOW_DATA_DIR/lake`` so that switching is a setting, not a code change. Writes are atomic
(local: temp file + rename; S3: single PUT or multipart completed as one object).
"""

from __future__ import annotations

import logging
import os
import tempfile
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cardflow.errors import StorageError
from cardflow.settings import Settings, get_settings

if TYPE_CHECKING:
    from prefect_aws import S3Bucket

logger = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 16 * 1024 * 1024


@runtime_checkable
class BronzeStore(Protocol):
    """Where Bronze objects live. Keys are relative, ``/``-separated, built by ``cardflow.bronze.layout``."""

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key`` atomically (overwriting) and return the object's URI."""

    def read_bytes(self, key: str) -> bytes:
        """Return the object's bytes; raise :class:`StorageError` if it does not exist."""

    def list_keys(self, prefix: str = "") -> list[str]:
        """All keys starting with ``prefix``, sorted."""

    def exists(self, key: str) -> bool:
        """True when an object is stored at ``key``."""

    def uri(self, key: str) -> str:
        """A URI for humans and for warehouses (``file://`` or ``s3://``)."""


class LocalBronzeStore:
    """Bronze in a local directory (the embedded default)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents and path != self.root:
            raise StorageError(key, "key escapes the store root")
        return path

    def write_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(key, f"no such object under {self.root}") from exc

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self.root / prefix if prefix else self.root
        # list from the deepest existing folder of the prefix, then filter by string prefix
        start = base if base.is_dir() else base.parent
        if not start.exists():
            return []
        keys = []
        for path in start.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def __repr__(self) -> str:
        return f"LocalBronzeStore({str(self.root)!r})"


class S3BronzeStore:
    """Bronze in an S3 bucket (or an S3-compatible store via its endpoint URL).

    Built from a prefect-aws ``S3Bucket`` block, so credentials come from the block (or the
    environment/instance role when the block holds none). Transient errors are retried by botocore's
    standard retry mode (throttling, 5xx, connection resets); 4xx errors surface at once.
    """

    def __init__(self, bucket: S3Bucket, *, client: Any | None = None) -> None:
        self.bucket = bucket
        self.bucket_name = bucket.bucket_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            params = self.bucket.credentials.aws_client_parameters
            cfg = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=32)
            session = self.bucket.credentials.get_boto3_session()
            self._client = session.client("s3", config=cfg, **_client_kwargs(params))
        return self._client

    def write_bytes(self, key: str, data: bytes) -> str:
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

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket_name, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise StorageError(key, f"no such object in s3://{self.bucket_name}") from exc

    def list_keys(self, prefix: str = "") -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

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

    def __repr__(self) -> str:
        return f"S3BronzeStore({self.bucket_name!r})"


def _client_kwargs(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    kwargs: dict[str, Any] = {}
    if params.endpoint_url:
        kwargs["endpoint_url"] = params.endpoint_url
    if params.use_ssl is False:
        kwargs["use_ssl"] = False
    if params.verify is False:
        kwargs["verify"] = False
    return kwargs


def s3_bucket_from_settings(settings: Settings) -> S3Bucket:
    """The prefect-aws ``S3Bucket`` block: the named block if configured, else one built from env."""
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    if settings.s3_bucket_block:
        return S3Bucket.load(settings.s3_bucket_block)
    settings.require("s3_bucket")
    credentials = AwsCredentials(
        aws_access_key_id=settings.aws_access_key_id.get_secret_value() if settings.aws_access_key_id else None,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=settings.s3_endpoint_url),
    )
    return S3Bucket(bucket_name=settings.s3_bucket, credentials=credentials)


def get_store(settings: Settings | None = None) -> BronzeStore:
    """The Bronze store the settings describe: S3 when a bucket is configured, else the local lake."""
    settings = settings or get_settings()
    if settings.uses_s3:
        return S3BronzeStore(s3_bucket_from_settings(settings))
    return LocalBronzeStore(settings.lake_dir)
