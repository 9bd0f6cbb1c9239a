"""Classified errors raised by the hooks.

Every external failure is one of these, so callers decide on the class, never on a status code:
credentials fail fast, throttling and transient faults are retried with backoff inside the hook,
an unknown outcome of a write is resolved by looking the records up, and a rejected request is not
sent again unchanged. Messages name the Airflow connection, the endpoint, the HTTP status and the
provider's own code and message — and never a credential.
"""

from __future__ import annotations


class LagoNetSuiteError(Exception):
    """Base class of every error this package raises about an external system."""

    def __init__(
        self,
        message: str,
        *,
        conn_id: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.status = status
        self.code = code
        parts = []
        if conn_id:
            parts.append(f"connection {conn_id!r}")
        if endpoint:
            parts.append(endpoint)
        if status is not None:
            parts.append(f"HTTP {status}")
        if code:
            parts.append(code)
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class CredentialsError(LagoNetSuiteError):
    """The credentials were refused (Lago 401/403, NetSuite ``INVALID_LOGIN_ATTEMPT``); never retried."""


class ConfigurationError(LagoNetSuiteError):
    """A connection or setting is missing or malformed; names what to fix."""


class ThrottledError(LagoNetSuiteError):
    """Rate or concurrency limit (429, ``SSS_REQUEST_LIMIT_EXCEEDED``) still hit after retrying."""


class TransientError(LagoNetSuiteError):
    """A 5xx or connection failure on an idempotent call that persisted through the retries."""


class OutcomeUnknownError(LagoNetSuiteError):
    """A write was sent but its outcome is unknown (timeout, 5xx, reset, lost response).

    The hook does not resend it: the caller looks the records up first.
    """


class RequestRejectedError(LagoNetSuiteError):
    """The service refused the request as malformed (a 4xx with another code); do not resend it unchanged."""


class NotFoundError(LagoNetSuiteError):
    """The requested object does not exist (Lago 404)."""
