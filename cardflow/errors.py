"""Every error cardflow raises on purpose.

Each class carries the identifiers needed to act on it (key, table, variable) and its message says
what failed, where, and what to do next. Callers catch :class:`CardflowError` to tell our failures
from bugs.
"""

from __future__ import annotations


class CardflowError(Exception):
    """Base class of all cardflow errors."""


class ConfigurationError(CardflowError):
    """A setting is missing or has a bad value; the message names the environment variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}. Fix it in the environment or in .env (see .env.example).")


class MissingConfiguration(ConfigurationError):
    """Several settings a run needs are unset: all of them are named at once, so one fix suffices.

    ``variables`` holds every missing environment variable; ``purpose`` says what needs them
    (e.g. "the Snowflake warehouse").
    """

    def __init__(self, variables: list[str], purpose: str, remedy: str = "") -> None:
        self.variables = list(variables)
        self.purpose = purpose
        self.variable = ", ".join(self.variables)
        hint = f" {remedy}" if remedy else ""
        CardflowError.__init__(
            self,
            f"{purpose} needs {len(self.variables)} setting(s) that are not set: {self.variable}. "
            f"Set them in the environment or in .env (see .env.example){hint}; nothing was run.",
        )


class ConflictingConfiguration(ConfigurationError):
    """Two sources of configuration disagree (e.g. a named block and environment variables)."""

    def __init__(self, variables: list[str], problem: str) -> None:
        self.variables = list(variables)
        self.variable = ", ".join(self.variables)
        CardflowError.__init__(
            self, f"{self.variable}: {problem}. Keep one source (unset the other); nothing was run."
        )


class ContractViolation(CardflowError):
    """An event does not satisfy the event contract; ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str, event_id: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.event_id = event_id
        where = f" (event_id={event_id})" if event_id else ""
        super().__init__(f"{reason}: {detail}{where}")


class EventStoreError(CardflowError):
    """The Postgres event store cannot be reached or has an unexpected shape."""


class EventsRejected(EventStoreError):
    """Some envelopes of an event-store insert were refused; all the others were inserted.

    ``rejected`` holds ``(position, event_id or None, problem)`` per refused envelope, the problem
    naming the field (``event_id: 'evt_1' is not a UUID``).
    """

    def __init__(self, inserted: int, rejected: list[tuple[int, str | None, str]]) -> None:
        self.inserted = inserted
        self.rejected = rejected
        shown = "; ".join(f"#{i} ({eid or 'no event_id'}): {problem}" for i, eid, problem in rejected[:5])
        more = f" and {len(rejected) - 5} more" if len(rejected) > 5 else ""
        super().__init__(
            f"{len(rejected)} envelope(s) rejected, {inserted} inserted: {shown}{more}. "
            "Fix the named fields and insert the rejected events again (inserting is idempotent)."
        )


class StorageError(CardflowError):
    """A Bronze object could not be read or written."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


class ConcurrentWriteError(StorageError):
    """A conditional write lost a race: the object changed since this writer read it."""

    def __init__(self, key: str, expected: str | None, found: str | None) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            key,
            f"changed by another writer since it was read (expected version {expected or 'none'}, "
            f"found {found or 'none'}); nothing was overwritten. Another run is updating it: let it "
            "finish, then re-run (the state it committed is kept)",
        )


class LoadError(CardflowError):
    """A Bronze file could not be loaded into RAW.EVENTS."""

    def __init__(self, file_name: str, problem: str) -> None:
        self.file_name = file_name
        super().__init__(f"{file_name}: {problem}")


class UnsafeSqlText(CardflowError):
    """A value cannot be written into SQL safely (a control character), so it is refused."""

    def __init__(self, value: str, problem: str) -> None:
        self.value = value
        super().__init__(f"{value!r}: {problem}; rename the object or the setting so it has none")


class BootstrapError(CardflowError):
    """A DDL statement of ``cardflow bootstrap`` failed; ``statement`` is the one that failed."""

    def __init__(self, target: str, statement: str, reason: str, remedy: str) -> None:
        self.target = target
        self.statement = statement
        self.reason = reason
        head = " ".join(statement.split())
        head = head if len(head) <= 120 else head[:117] + "..."
        super().__init__(f"bootstrap of {target} failed at `{head}`: {reason}. {remedy}")


class TransformError(CardflowError):
    """dbt failed: a model errored or an error-severity test failed."""


class QualityGateFailed(CardflowError):
    """A Great Expectations gate or a freshness/volume check failed; nothing was published."""

    def __init__(self, gate: str, failures: list[str]) -> None:
        self.gate = gate
        self.failures = failures
        listed = "; ".join(failures[:10])
        super().__init__(f"quality gate {gate!r} failed ({len(failures)} checks): {listed}")


class SuiteDefinitionError(CardflowError):
    """An expectation suite file under ``expectations/`` is missing, unreadable or has expectations
    that Great Expectations would not accept (GX drops those with only a log line)."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(
            f"{path}: {len(problems)} expectation(s) rejected: {'; '.join(problems[:10])}. "
            "Fix the suite JSON "
            "(expectation type names and kwargs as in the GX 1.x gallery)."
        )


class ReportError(CardflowError):
    """The Gold report could not be built: ``what`` names the warehouse file or the query that failed."""

    def __init__(self, what: str, problem: str) -> None:
        self.what = what
        super().__init__(f"report: {what}: {problem}")


class ManifestError(CardflowError):
    """A run manifest in Bronze is missing, unreadable or does not say what a caller needs."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"manifest {key}: {problem}")


class DeploymentConflict(CardflowError):
    """``cardflow serve`` would replace deployments that a worker runs (same flow/deployment names)."""

    def __init__(self, deployments: list[str], remedy: str) -> None:
        self.deployments = deployments
        super().__init__(
            "the Prefect API already holds worker-pool deployments of the names cardflow serve registers: "
            f"{', '.join(deployments)}. Serving would overwrite them (work pool, pull steps) and stopping "
            f"serve would pause their schedules, so serve did not start. {remedy}"
        )
