"""How cardflow reaches RabbitMQ: pika connection parameters from RABBITMQ_URL, a log-safe address.

``RABBITMQ_URL`` holds the broker password, so it travels as a :class:`~pydantic.SecretStr` and is
revealed only here, where pika needs it; logs and error messages use :func:`describe_url`, which
keeps scheme, host, port and virtual host and drops the credentials.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pika
from pydantic import SecretStr

from cardflow.errors import CardflowError


class BrokerError(CardflowError):
    """RabbitMQ refused an operation (topology mismatch, unroutable or nacked publishes)."""


def reveal(url: SecretStr | str) -> str:
    """The URL text (the only place a ``SecretStr`` RABBITMQ_URL is unwrapped)."""
    return url.get_secret_value() if isinstance(url, SecretStr) else url


def connection_parameters(
    url: SecretStr | str, *, heartbeat: int = 30, name: str | None = None
) -> pika.URLParameters:
    """pika parameters from RABBITMQ_URL with a heartbeat the consumer loop always honours; ``name``
    shows in the management UI and ``rabbitmqctl list_connections client_properties``."""
    params = pika.URLParameters(reveal(url))
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 300
    if name:
        params.client_properties = {"connection_name": name}
    return params


def describe_url(url: SecretStr | str) -> str:
    """The broker address for logs, without credentials."""
    parsed = urlparse(reveal(url))
    port = parsed.port or (5671 if parsed.scheme == "amqps" else 5672)
    return f"{parsed.scheme}://{parsed.hostname}:{port}{parsed.path or '/'}"
