"""The Prefect global concurrency limits that keep writers one at a time, and who holds them.

* ``warehouse``: every flow that writes the warehouse (load, transform, replay, and the pipeline
  around its warehouse stages) holds one slot while it writes, so a manual transform during a
  pipeline run waits instead of dropping and swapping the same audit tables. On a Prefect server
  the slot is **strict**: when the limit is missing the run fails at once with an error naming
  ``cardflow limits`` (which creates it), rather than running unprotected. With no server
  configured (the ephemeral API of ``cardflow demo`` and a laptop: one process, nothing to race)
  a missing limit only logs Prefect's warning.
* ``backfill-<events table>``: one backfill per events table at a time. It is created on first use
  (one slot), so no setup step can be forgotten; the conditional write of the backfill state
  (:mod:`cardflow.sources.eventstore.watermark`) is the net underneath it.

**Ownership of nested flows.** The outermost flow that takes a slot owns it for its whole block;
the flows it calls as subflows (the pipeline's load and transform, the replay's rebuild) run in
the same context and see the slot held (:data:`_HELD`, a context variable), so they do not take a
second one and cannot deadlock on a limit of 1. A slot held by another run is waited for (up to
:data:`SLOT_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Literal, ParamSpec, TypeVar

from cardflow.errors import ConfigurationError

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

WAREHOUSE_LIMIT = "warehouse"
"""Name of the Prefect global concurrency limit the warehouse writers hold one slot of."""

SLOT_TIMEOUT_SECONDS = 3 * 3600
"""How long a run waits for a slot before failing (a crashed holder's lease expires sooner)."""

_HELD: ContextVar[frozenset[str]] = ContextVar("cardflow_held_slots", default=frozenset())
"""Limits whose slot this run (or the flow that called it as a subflow) already holds."""


def backfill_limit(events_table: str) -> str:
    """The per-table backfill limit's name (``events_table`` is a validated identifier)."""
    return f"backfill-{events_table}"


def on_server() -> bool:
    """True when a Prefect API URL is configured (a server or Cloud), False for the ephemeral API."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def ensure_limit(name: str, slots: int = 1, *, update: bool = True) -> Literal["created", "updated", "exists"]:
    """Create the limit ``name`` with ``slots`` slots; an existing one is set to ``slots`` and
    activated when ``update``, else left alone (``exists``)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
                return "created"
            except ObjectAlreadyExists:  # another run created it first
                return "exists"
        if not update:
            return "exists"
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=slots, active=True))
        return "updated"


def ensure_warehouse_limit(slots: int = 1) -> Literal["created", "updated"]:
    """Create the ``warehouse`` limit with ``slots`` slots, or set an existing one (``cardflow limits``)."""
    outcome = ensure_limit(WAREHOUSE_LIMIT, slots)
    return "updated" if outcome == "exists" else outcome


@contextmanager
def _slot(name: str, *, strict: bool, purpose: str) -> Iterator[None]:
    if name in _HELD.get():
        logger.debug("%s: slot %r already held by the calling flow", purpose, name)
        yield
        return
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    with ExitStack() as stack:
        try:
            stack.enter_context(concurrency(name, occupy=1, timeout_seconds=SLOT_TIMEOUT_SECONDS, strict=strict))
        except ConcurrencySlotAcquisitionError as exc:
            raise ConfigurationError(
                f"concurrency limit {name!r}",
                f"{purpose} must hold a slot of the Prefect global concurrency limit {name!r}, which "
                f"does not exist on this Prefect server ({exc}); run `cardflow limits` once against "
                "this server to create it",
            ) from exc
        token = _HELD.set(_HELD.get() | {name})
        try:
            yield
        finally:
            _HELD.reset(token)


@contextmanager
def warehouse_slot(purpose: str) -> Iterator[None]:
    """Hold one slot of ``warehouse`` for the block (re-entrant within a run and its subflows).

    Args:
        purpose: the flow taking it, for messages (``load``, ``transform``, ``replay``).

    Raises:
        ConfigurationError: on a Prefect server where the limit does not exist (names ``cardflow limits``).
        TimeoutError: the slot was not free within :data:`SLOT_TIMEOUT_SECONDS`.
    """
    with _slot(WAREHOUSE_LIMIT, strict=on_server(), purpose=purpose):
        yield


@contextmanager
def backfill_slot(events_table: str) -> Iterator[None]:
    """Hold the one slot of ``backfill-<events_table>`` (created on first use) for the block."""
    name = backfill_limit(events_table)
    if name not in _HELD.get():
        ensure_limit(name, 1, update=False)
    with _slot(name, strict=True, purpose=f"the backfill of {events_table}"):
        yield


def holds_warehouse_slot(purpose: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a flow function so its whole run holds the ``warehouse`` slot (see :func:`warehouse_slot`).

    Put it under ``@flow``: the flow's parameters stay those of the function (``functools.wraps``).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with warehouse_slot(purpose):
                return fn(*args, **kwargs)

        return _resolved(run, fn)

    return decorate


def holds_backfill_slot(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate the backfill flow so a run holds its events table's slot (see :func:`backfill_slot`).

    The table comes from the run's ``settings`` argument, else from the environment's settings.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from cardflow.settings import get_settings

        settings = signature.bind_partial(*args, **kwargs).arguments.get("settings") or get_settings()
        with backfill_slot(settings.events_table):
            return fn(*args, **kwargs)

    return _resolved(run, fn)


def _resolved(wrapper: Callable[P, R], fn: Callable[P, R]) -> Callable[P, R]:
    """Give ``wrapper`` ``fn``'s annotations as types: Prefect resolves string annotations (``from
    __future__ import annotations``) in the wrapper's module, where the flow's names are unknown."""
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    wrapper.__annotations__ = hints
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # else inspect reads fn's string annotations
    return wrapper
