"""Links a person can open from the Prefect UI for files a run wrote (the Gold report, Data Docs).

A ``file://`` path is only useful on the machine that wrote it: the worker's disk is not where the
person reading the Prefect UI sits. :func:`ui_link` is the one place that decides what an artifact
links to:

* **embedded setup** (Bronze is a local directory): the file's ``file://`` URI -- UI, worker and
  browser share the machine;
* **S3 configured** (Bronze is a bucket): the file is uploaded to the same bucket under ``_site/``
  (outside the Bronze prefix, so no load ever picks it up) with its content type, and the link is a
  presigned GET URL valid for :data:`PRESIGN_SECONDS` (7 days, the SigV4 maximum). The AWS console
  URL of the object, which does not expire but needs a console login, comes with it.

For a static site (Data Docs) pass ``site_root``: every file of the site is mirrored under the
site's prefix (files whose size is unchanged are skipped), so the site is complete in the bucket.
The presigned link opens the index page; pages it links to open for a viewer who can read the
bucket (static website hosting, CloudFront, or the console link).
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import quote

from cardflow.bronze.store import BronzeStore, S3BronzeStore

logger = logging.getLogger(__name__)

PRESIGN_SECONDS: Final = 7 * 24 * 3600
SITE_PREFIX: Final = "_site"


@dataclass(frozen=True)
class UiLink:
    """What an artifact links to, and for how long the link works."""

    url: str
    location: str
    """``file`` (embedded setup) or the object's ``s3://bucket/key``."""
    expires_at: datetime | None = None
    console_url: str | None = None

    def describe(self) -> str:
        """A sentence for the artifact's description: where the file is, until when the link works."""
        if self.expires_at is None:
            return "a file on the machine that ran the flow"
        text = f"{self.location}; link valid until {self.expires_at:%Y-%m-%d %H:%M} UTC"
        return text + (f" (AWS console: {self.console_url})" if self.console_url else "")


def site_key(*parts: str) -> str:
    """The bucket key of a published file: ``_site/<parts...>``."""
    return str(PurePosixPath(SITE_PREFIX, *parts))


def ui_link(
    store: BronzeStore,
    local: Path,
    key: str,
    *,
    site_root: Path | None = None,
    expires_seconds: int = PRESIGN_SECONDS,
    now: datetime | None = None,
) -> UiLink:
    """Publish ``local`` where the UI's reader can open it and return the link (see the module doc).

    Args:
        store: the run's Bronze store; a local store means the embedded setup.
        local: the file the run wrote (the report's ``index.html``, Data Docs' ``index.html``).
        key: its bucket key (:func:`site_key`); with ``site_root``, the key of ``local`` inside the
            site, and the site's other files go beside it.
        site_root: the directory of a static site ``local`` belongs to (mirrored as a whole).

    Raises:
        botocore errors when the upload fails; callers keep the local link then (a link must never
        fail a run).
    """
    if not isinstance(store, S3BronzeStore):
        return UiLink(local.resolve().as_uri(), "file")
    if site_root is not None:
        prefix = key.removesuffix(local.resolve().relative_to(site_root.resolve()).as_posix()).rstrip("/")
        _mirror_site(store, site_root, prefix)
    _upload(store, local, key)
    now = now or datetime.now(UTC)
    url = store.client.generate_presigned_url(
        "get_object", Params={"Bucket": store.bucket_name, "Key": key}, ExpiresIn=expires_seconds
    )
    console = None
    if store.config.endpoint_url is None:  # real AWS: the console can show the object
        console = f"https://s3.console.aws.amazon.com/s3/object/{store.bucket_name}?prefix={quote(key)}"
    logger.info("published %s as %s (link valid %d s)", local.name, store.uri(key), expires_seconds)
    return UiLink(url, store.uri(key), now + timedelta(seconds=expires_seconds), console)


def _upload(store: S3BronzeStore, local: Path, key: str) -> None:
    content_type = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    store.client.put_object(
        Bucket=store.bucket_name, Key=key, Body=local.read_bytes(), ContentType=content_type
    )


def _mirror_site(store: S3BronzeStore, site_root: Path, prefix: str) -> int:
    """Upload every file under ``site_root`` whose object is missing or differs in size."""
    remote: dict[str, int] = {}
    paginator = store.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=store.bucket_name, Prefix=f"{prefix}/"):
        remote.update({obj["Key"]: int(obj["Size"]) for obj in page.get("Contents", [])})
    uploaded = 0
    for path in sorted(p for p in site_root.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(site_root).as_posix()}"
        if remote.get(key) != path.stat().st_size:
            _upload(store, path, key)
            uploaded += 1
    logger.info("site %s mirrored to s3://%s/%s: %d files uploaded", site_root, store.bucket_name, prefix, uploaded)
    return uploaded
