"""The webhook receiver: an ASGI app that lands MQ batches posted over HTTP.

Senders: an Amazon MQ event-source mapping relayed by the Lambda or EventBridge Pipe in
``infra/cloudformation/amazonmq_to_webhook.yml`` (body ``{"eventSource": "aws:rmq",
"rmqMessagesByQueue": {"<queue>::<vhost>": [...]}}``), or any client posting ``{"messages": [...]}``.

The receiver lands each batch itself (:func:`cardflow.sources.mq.landing.land_messages`) and then
emits the Prefect event ``cardflow.mq.batch.landed`` (:func:`tasks.realtime.emit_batch_landed`),
whose payload holds the batch id, the manifest key and counts -- never message bodies. The
``mq_realtime_landing`` deployment's trigger turns that event into a run that records the batch
from its manifest. No batch ever becomes a flow-run parameter: parameters are capped at 512 KiB (an
Amazon MQ batch of about 600 messages) and stored on the Prefect API, and messages may hold
personal data.

Contract with the sender (at-least-once in, exactly-once effect out):

* ``2xx`` only after the landing returned, i.e. every Bronze object and the manifest of the batch
  are durably written. Posting the same batch again is harmless: it rewrites the same keys with
  the same bytes. The event is a notification sent after the write; if it is lost the batch is
  still in Bronze and listed by its manifest, which the load reads either way.
* ``401`` bad or missing credentials; ``413`` body over CARDFLOW_WEBHOOK_MAX_BYTES; ``400`` not
  JSON; ``422`` JSON of the wrong shape -- these are not retried usefully, the message says why.
* ``503`` Bronze could not be written: retry later (the sender's retry policy redelivers).

Authentication (CARDFLOW_WEBHOOK_SECRET must be set): either header
``X-Cardflow-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`` or the secret
itself as ``Authorization: Bearer <secret>`` / ``X-Cardflow-Secret: <secret>`` (what an EventBridge
API-destination connection sends). Comparisons are constant-time; secrets are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cardflow.backends.chooser import resolve_backends
from cardflow.errors import CardflowError, ConfigurationError, StorageError
from cardflow.settings import Settings, get_settings
from cardflow.sources.mq.landing import BatchLanding, land_messages
from cardflow.sources.mq.messages import RawMessage
from tasks.realtime import emit_batch_landed

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-cardflow-signature"
SECRET_HEADER = "x-cardflow-secret"

#: lands a list of wire messages durably and says what it wrote
Lander = Callable[[list[dict[str, Any]]], BatchLanding]
#: tells the world a batch landed (default: the Prefect event); returns the event's id, if any
Notifier = Callable[[BatchLanding], str | None]


class BadRequest(Exception):
    """A request the sender must fix; ``status`` is the HTTP code, the message says what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex>`` (for senders and tests)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_auth(headers: Any, body: bytes, secret: str) -> None:
    """Accept a valid HMAC signature of the body, or the shared secret as bearer/header token.

    Raises:
        BadRequest: 401 naming which credential was wrong or missing (never echoing it).
    """
    signature = headers.get(SIGNATURE_HEADER)
    if signature:
        if hmac.compare_digest(signature.strip(), sign(secret, body)):
            return
        raise BadRequest(
            401, f"{SIGNATURE_HEADER} does not match the body (HMAC-SHA256 with the shared secret)"
        )
    token = headers.get(SECRET_HEADER)
    auth = headers.get("authorization", "")
    if not token and auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    if token:
        if hmac.compare_digest(token.encode(), secret.encode()):
            return
        raise BadRequest(401, "shared secret does not match")
    raise BadRequest(
        401,
        f"missing credentials: send {SIGNATURE_HEADER}: sha256=<hmac>, Authorization: Bearer <secret> "
        f"or {SECRET_HEADER}: <secret>",
    )


def extract_messages(document: Any) -> list[dict[str, Any]]:
    """The list of messages of either accepted body shape.

    Raises:
        BadRequest: 422 when the document is neither shape or holds non-object messages.
    """
    if not isinstance(document, dict):
        raise BadRequest(422, f"body must be a JSON object, got {type(document).__name__}")
    if "rmqMessagesByQueue" in document:
        by_queue = document["rmqMessagesByQueue"]
        if not isinstance(by_queue, dict):
            raise BadRequest(422, "rmqMessagesByQueue must be an object of '<queue>::<vhost>': [messages]")
        messages: list[Any] = []
        for queue, items in by_queue.items():
            if not isinstance(items, list):
                raise BadRequest(422, f"rmqMessagesByQueue[{queue!r}] must be a list of messages")
            messages.extend(items)
    elif "messages" in document:
        messages = document["messages"]
        if not isinstance(messages, list):
            raise BadRequest(422, "messages must be a list")
    else:
        raise BadRequest(
            422,
            'expected {"messages": [...]} or an Amazon MQ event with "rmqMessagesByQueue"; '
            f"got keys {sorted(document)[:10]}",
        )
    for i, item in enumerate(messages):
        if not isinstance(item, dict):
            raise BadRequest(422, f"message {i} must be an object with 'data' (base64) and 'basicProperties'")
    return messages


#: an oversize body is still read (and thrown away) up to this many bytes before the 413 is sent:
#: a client that sends its whole body before reading the answer (urllib, requests) would otherwise
#: see a connection reset instead of the 413. Bigger bodies are refused at once.
DISCARD_MAX_BYTES = 256 * 1024 * 1024


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes.

    Raises:
        BadRequest: 413 when the body (declared or actual) is over ``limit``, after reading and
            discarding it up to :data:`DISCARD_MAX_BYTES` so that the client gets to read the
            answer; 400 when Content-Length is not a number.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size_declared = int(declared)
        except ValueError as exc:
            raise BadRequest(400, "Content-Length is not a number") from exc
        if size_declared > limit:
            if size_declared <= DISCARD_MAX_BYTES:
                async for _chunk in request.stream():
                    pass
            raise BadRequest(413, f"body of {size_declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            chunks = []
            if size > DISCARD_MAX_BYTES:
                break
            continue
        chunks.append(chunk)
    if size > limit:
        raise BadRequest(413, f"body exceeds the limit of {limit} bytes")
    return b"".join(chunks)


def create_app(
    settings: Settings | None = None,
    *,
    lander: Lander | None = None,
    emit_events: bool = True,
    notifier: Notifier | None = None,
) -> Starlette:
    """Build the ASGI app.

    Args:
        settings: cardflow settings (CARDFLOW_WEBHOOK_SECRET required).
        lander: lands a list of wire messages; default: :func:`land_messages` on the configured
            Bronze store, in the request (the 2xx waits for it).
        emit_events: after each landed batch, emit ``cardflow.mq.batch.landed`` (default). False
            lands without any Prefect API (``cardflow webhook --no-events``).
        notifier: replaces the event emission (tests).

    Raises:
        ConfigurationError: CARDFLOW_WEBHOOK_SECRET is not set (the receiver never runs open).
    """
    settings = settings or get_settings()
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise ConfigurationError("CARDFLOW_WEBHOOK_SECRET", "the webhook receiver needs a shared secret")
    secret = settings.webhook_secret.get_secret_value()
    limit = settings.webhook_max_body_bytes
    land = lander or _store_lander(settings)
    notify = notifier or (_emit_landed_event if emit_events else None)

    async def receive(request: Request) -> JSONResponse:
        try:
            body = await _read_body(request, limit)
            check_auth(request.headers, body, secret)
            try:
                document = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(400, f"body is not valid JSON: {exc}") from exc
            messages = extract_messages(document)
        except BadRequest as exc:
            logger.warning("webhook rejected a request with %d: %s", exc.status, exc)
            headers = {"connection": "close"} if exc.status == 413 else None
            return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)
        try:
            landing = await run_in_threadpool(land, messages)
        except StorageError as exc:
            logger.error("webhook batch of %d not landed (store): %s", len(messages), exc)
            return JSONResponse({"error": f"Bronze write failed, retry later: {exc}"}, status_code=503)
        except CardflowError as exc:
            logger.error("webhook batch of %d not landed: %s", len(messages), exc)
            return JSONResponse({"error": f"landing failed, retry later: {exc}"}, status_code=503)
        event_id = await run_in_threadpool(_notify_quietly, notify, landing) if notify else None
        return JSONResponse(
            {"status": "landed", **landing.counts(), "event_id": event_id, "worker_pid": os.getpid()},
            status_code=200,
        )

    async def health(_request: Request) -> JSONResponse:
        # the answering worker's pid: behind a load balancer, which of the workers are up
        bronze = "s3" if settings.uses_s3 else "local"
        return JSONResponse({"status": "ok", "bronze": bronze, "worker_pid": os.getpid()})

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/mq", receive, methods=["POST"]),
            Route("/", receive, methods=["POST"]),
        ]
    )


def _store_lander(settings: Settings) -> Lander:
    """Land straight into the configured Bronze store (no flow run: a batch is never a parameter)."""
    store = resolve_backends(settings, needs={"bronze"}).store()  # a bad configuration fails at start
    return lambda messages: land_messages(
        [RawMessage.from_wire(m) for m in messages], store, settings.s3_prefix
    )


def _emit_landed_event(landing: BatchLanding) -> str | None:
    event = emit_batch_landed(landing)
    return str(event.id) if event is not None else None


def _notify_quietly(notify: Notifier, landing: BatchLanding) -> str | None:
    """Send the landed notification; a failure is logged, never turned into a non-2xx answer.

    The batch is durably in Bronze at this point: answering an error would make the sender
    redeliver a batch that already landed, for the sake of a notification.
    """
    try:
        return notify(landing)
    except Exception as exc:  # any notifier failure: the landing already succeeded
        logger.warning(
            "batch %s landed (manifest %s) but the landed event was not sent: %s",
            landing.batch_id,
            landing.manifest_key,
            type(exc).__name__,
        )
        return None


def app_factory() -> Starlette:
    """For ``uvicorn --factory deployments.webhook_app:app_factory`` (settings from the environment).

    The app keeps no state between requests (each batch is landed under keys derived from its
    messages), so any number of uvicorn workers or hosts behind a load balancer can serve one
    stream: a batch delivered twice, to two workers, lands the same objects once.
    """
    return create_app()


def app_factory_without_events() -> Starlette:
    """Like :func:`app_factory`, landing without the Prefect event (``cardflow webhook --no-events``)."""
    return create_app(emit_events=False)
