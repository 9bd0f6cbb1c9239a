"""OAuth 1.0a token-based authentication as NetSuite checks it: HMAC-SHA256, realm, nonce, clock.

The signature base string is rebuilt with oauthlib's RFC 5849 helpers (method, base string URI,
every query parameter and every ``oauth_*`` header parameter except ``realm`` and the signature).
oauthlib's ``RequestValidator`` is not used because its defaults refuse NetSuite's 64-character
keys. Every failure is one answer to the client — ``INVALID_LOGIN_ATTEMPT`` — but the reason is
kept for the sandbox's statistics. Nothing here logs the Authorization header.
"""

from __future__ import annotations

import heapq
import hmac
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from lago_netsuite_dev.sandbox.netsuite.config import NetSuiteSandboxConfig

SIGNATURE_METHOD = "HMAC-SHA256"
_REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_signature",
             "oauth_timestamp", "oauth_nonce")


class AuthFailure(Exception):
    """The request is not authenticated; ``reason`` is a short tag for the statistics."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NonceCache:
    """Nonces seen per (consumer key, token), forgotten once their timestamp leaves the window.

    Bounded: when full, the oldest entry is evicted and that credential's floor rises to its
    timestamp, so a request at or below the floor is refused — an evicted nonce can never replay.
    """

    def __init__(self, window_s: int, max_entries: int) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str, str], int] = {}
        self._by_age: list[tuple[int, tuple[str, str, str]]] = []
        self._floor: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def accept(self, consumer_key: str, token: str, nonce: str, timestamp: int, now: float) -> bool:
        """Record the nonce and return True, or return False when it was already used."""
        self._prune(now)
        if timestamp <= self._floor.get((consumer_key, token), -1):
            return False
        key = (consumer_key, token, nonce)
        if key in self._seen:
            return False
        self._seen[key] = timestamp
        heapq.heappush(self._by_age, (timestamp, key))
        while len(self._seen) > self.max_entries:
            old_ts, old_key = heapq.heappop(self._by_age)
            if self._seen.pop(old_key, None) is not None:
                cred = old_key[:2]
                self._floor[cred] = max(self._floor.get(cred, -1), old_ts)
        return True

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        while self._by_age and self._by_age[0][0] < horizon:
            _, key = heapq.heappop(self._by_age)
            self._seen.pop(key, None)


class OAuthVerifier:
    """Checks the Authorization header of a RESTlet request against the configured token."""

    def __init__(self, config: NetSuiteSandboxConfig) -> None:
        self.config = config
        # A nonce is remembered while its timestamp could still pass the clock check.
        self.nonces = NonceCache(window_s=config.clock_skew_s, max_entries=config.nonce_cache_size)

    def update_config(self, config: NetSuiteSandboxConfig) -> None:
        """Switch to a new configuration, keeping the nonces already seen (no replay window opens)."""
        self.config = config
        self.nonces.window_s = config.clock_skew_s

    def verify(self, method: str, url: str, authorization: str | None, now: float | None = None) -> None:
        """Raise :class:`AuthFailure` unless the request is signed by the configured token.

        Args:
            method: HTTP method as sent.
            url: the full request URL as the client addressed it (scheme, host, port, query).
            authorization: the Authorization header value, if any.
            now: the current time (tests pin it); defaults to ``time.time()``.
        """
        now = time.time() if now is None else now
        if not authorization or not authorization[:6].lower() == "oauth ":
            raise AuthFailure("missing_header")
        try:
            params = dict(oauth_utils.parse_authorization_header(authorization))
        except ValueError as exc:
            raise AuthFailure("malformed_header") from exc
        if any(not params.get(name) for name in _REQUIRED):
            raise AuthFailure("missing_parameter")
        values = {name: oauth_utils.unescape(value) for name, value in params.items()}
        if values.get("realm") != self.config.account_id.upper():
            raise AuthFailure("realm")
        if values["oauth_signature_method"] != SIGNATURE_METHOD:
            raise AuthFailure("signature_method")
        if values.get("oauth_version", "1.0") != "1.0":
            raise AuthFailure("version")
        if not _equal(values["oauth_consumer_key"], self.config.consumer_key):
            raise AuthFailure("consumer_key")
        if not _equal(values["oauth_token"], self.config.token_id):
            raise AuthFailure("token")
        try:
            timestamp = int(values["oauth_timestamp"])
        except ValueError as exc:
            raise AuthFailure("timestamp") from exc
        if abs(now - timestamp) > self.config.clock_skew_s:
            raise AuthFailure("timestamp")
        if not _equal(values["oauth_signature"], self._expected_signature(method, url, authorization)):
            raise AuthFailure("signature")
        if not self.nonces.accept(values["oauth_consumer_key"], values["oauth_token"],
                                  values["oauth_nonce"], timestamp, now):
            raise AuthFailure("nonce_replayed")

    def _expected_signature(self, method: str, url: str, authorization: str) -> str:
        try:
            collected = oauth_signature.collect_parameters(
                uri_query=urlsplit(url).query, headers={"Authorization": authorization}
            )
        except ValueError as exc:  # a query string oauthlib cannot decode cannot have been signed
            raise AuthFailure("malformed_query") from exc
        base_string = oauth_signature.signature_base_string(
            method.upper(),
            oauth_signature.base_string_uri(url),
            oauth_signature.normalize_parameters(collected),
        )
        secrets = SimpleNamespace(
            client_secret=self.config.consumer_secret, resource_owner_secret=self.config.token_secret
        )
        return oauth_signature.sign_hmac_sha256_with_client(base_string, secrets)


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
