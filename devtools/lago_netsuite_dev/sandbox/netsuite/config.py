"""Configuration of the NetSuite RESTlet sandbox: credentials, limits, latency, reference sets, faults.

One dataclass holds everything a test or the demo may want to vary. The parts that are plain data
can also be changed at run time through ``POST /_sandbox/config`` (see :func:`apply_update`), so an
out-of-process sandbox can be steered between test steps the same way an in-process one is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from lago_netsuite.money import exponent

# Faults that hit a whole call, decided once per authenticated call.
CALL_FAULTS: tuple[str, ...] = (
    "throttle_400",  # 400 SSS_REQUEST_LIMIT_EXCEEDED, nothing processed
    "throttle_429",  # 429, nothing processed
    "http_5xx",  # a 5xx before any write
    "lost_response",  # the write commits, then the connection drops mid-response
    "timeout",  # the write commits only after holding the response for ``timeout_hold_s``
    "connection_reset",  # the connection drops before anything is processed
)
# Faults that hit one record on its way to being created.
RECORD_FAULTS: tuple[str, ...] = ("rcrd_has_been_changed", "invalid_reference", "record_error")

RECORD_TYPES: frozenset[str] = frozenset(
    {"customer", "invoice", "salesorder", "creditmemo", "customerpayment", "customerrefund"}
)
TRANSACTION_TYPES: frozenset[str] = RECORD_TYPES - {"customer"}


@dataclass
class CallFaultRule:
    """Scripted call fault: the next ``calls`` matching calls (after skipping ``skip``) get ``kind``."""

    kind: str
    calls: int = 1
    method: str | None = None  # "POST", "GET" or None for both
    skip: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as accepted by :meth:`FaultConfig.from_dict`."""
        return {"kind": self.kind, "calls": self.calls, "method": self.method, "skip": self.skip}


@dataclass
class RecordFaultRule:
    """Scripted record fault: the record with ``external_id`` fails ``times`` times with ``kind``.

    ``code``/``message`` override the defaults (``record_error`` needs a ``code``); ``field`` names
    the reference an ``invalid_reference`` fault blames (default: the customer reference).
    """

    kind: str
    external_id: str
    times: int = 1
    code: str | None = None
    message: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as accepted by :meth:`FaultConfig.from_dict`."""
        return {
            "kind": self.kind, "externalId": self.external_id, "times": self.times,
            "code": self.code, "message": self.message, "field": self.field,
        }


@dataclass
class FaultConfig:
    """Fault injection: seeded random ``rates`` per kind plus deterministic scripts.

    ``rates`` maps a call fault kind to its probability per call and ``rcrd_has_been_changed`` /
    ``invalid_reference`` to a probability per record reaching create. Scripted rules are consumed
    first, in order; random draws use ``random.Random(seed)`` so a run is reproducible.
    """

    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    calls: list[CallFaultRule] = field(default_factory=list)
    records: list[RecordFaultRule] = field(default_factory=list)
    timeout_hold_s: float = 2.0
    http_5xx_status: int = 503

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in CALL_FAULTS and kind not in ("rcrd_has_been_changed", "invalid_reference"):
                raise ValueError(f"unknown fault kind in rates: {kind!r}")
            if not 0 <= rate <= 1:
                raise ValueError(f"fault rate for {kind!r} must be within [0, 1], got {rate}")
        call_total = sum(rate for kind, rate in self.rates.items() if kind in CALL_FAULTS)
        if call_total > 1:
            raise ValueError(f"call fault rates add up to {call_total} > 1")
        for rule in self.calls:
            if rule.kind not in CALL_FAULTS:
                raise ValueError(f"unknown call fault kind {rule.kind!r}; expected one of {CALL_FAULTS}")
            if rule.method not in (None, "GET", "POST"):
                raise ValueError(f"call fault method must be GET, POST or null, got {rule.method!r}")
        for rec in self.records:
            if rec.kind not in RECORD_FAULTS:
                raise ValueError(f"unknown record fault kind {rec.kind!r}; expected one of {RECORD_FAULTS}")
            if rec.kind == "record_error" and not rec.code:
                raise ValueError("a record_error fault needs a code")
        if not 500 <= self.http_5xx_status <= 599:
            raise ValueError(f"http_5xx_status must be a 5xx status, got {self.http_5xx_status}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultConfig:
        """Build from the JSON form used by ``POST /_sandbox/config`` (``externalId`` or ``external_id``)."""
        unknown = set(data) - {"seed", "rates", "calls", "records", "timeout_hold_s", "http_5xx_status"}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        records = []
        for item in data.get("records", []):
            item = dict(item)
            ext = item.pop("externalId", None) or item.pop("external_id", None)
            if not isinstance(ext, str):
                raise ValueError("a record fault needs an externalId")
            records.append(RecordFaultRule(external_id=ext, **item))
        return cls(
            seed=int(data.get("seed", 0)),
            rates={str(k): float(v) for k, v in dict(data.get("rates", {})).items()},
            calls=[CallFaultRule(**dict(item)) for item in data.get("calls", [])],
            records=records,
            timeout_hold_s=float(data.get("timeout_hold_s", 2.0)),
            http_5xx_status=int(data.get("http_5xx_status", 503)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form of this configuration."""
        return {
            "seed": self.seed, "rates": dict(self.rates),
            "calls": [rule.to_dict() for rule in self.calls],
            "records": [rule.to_dict() for rule in self.records],
            "timeout_hold_s": self.timeout_hold_s, "http_5xx_status": self.http_5xx_status,
        }


@dataclass
class NetSuiteSandboxConfig:
    """Everything the NetSuite sandbox is configured with (see docs/architecture.md).

    ``currencies`` maps NetSuite currency ids to ISO codes so amounts can be checked against the
    currency's decimals; ``valid_*`` sets of ``None`` accept any id. ``expected_totals`` is the
    invariant oracle: ``(kind, lago_id) -> Decimal | None``.

    ``after_commit`` is a test-only hook (in-process sandboxes; not settable through
    ``/_sandbox/config``): ``after_commit(method, results)`` runs once per admitted call after its
    work is done — a POST's records committed (for the ``timeout`` fault, after the hold), a GET's
    look-up answered — and before the answer leaves, with the results about to be sent (``None``
    when the call answered an error). Crash tests use it to kill the client exactly between
    NetSuite's write and the loader's ledger update. It runs on the server's event loop: keep it
    quick and do not raise.
    """

    account_id: str = "1234567_SB1"
    consumer_key: str = ""
    consumer_secret: str = ""
    token_id: str = ""
    token_secret: str = ""
    script: str = "customscript_lago_netsuite_sync"
    deploy: str = "customdeploy_lago_netsuite_sync"
    concurrency_limit: int = 5
    latency_per_call_ms: float = 0
    latency_per_record_ms: float = 0
    usage_limit: int = 5000
    usage_reserve: int = 100
    clock_skew_s: int = 300
    faults: FaultConfig = field(default_factory=FaultConfig)
    valid_items: set[str] | None = None
    valid_currencies: set[str] | None = None
    valid_subsidiaries: set[str] | None = None
    currencies: dict[str, str] = field(default_factory=dict)
    expected_totals: Callable[[str, str], Decimal | frozenset[Decimal] | None] | None = None
    after_commit: Callable[[str, list[dict[str, Any]] | None], None] | None = None
    batch_cap: int = 500
    nonce_cache_size: int = 100_000
    # Fields the account makes mandatory, per record type: body field ids, ``item.<id>`` for item
    # lines (``{"invoice": ["department", "item.class"]}``); a record without them is refused.
    required_fields: dict[str, list[str]] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ValueError for a configuration the sandbox cannot honour."""
        for name in ("consumer_key", "consumer_secret", "token_id", "token_secret"):
            if not getattr(self, name):
                raise ValueError(f"NetSuiteSandboxConfig.{name} must be set (64 hex characters)")
        if self.concurrency_limit < 1:
            raise ValueError("concurrency_limit must be at least 1")
        if self.usage_reserve < 0 or self.usage_limit < 0:
            raise ValueError("usage_limit and usage_reserve must not be negative")
        for code in self.currencies.values():
            exponent(code)  # raises UnknownCurrencyError for a code that is not ISO 4217
        for record_type in self.required_fields:
            if record_type not in RECORD_TYPES:
                raise ValueError(f"required_fields: unknown record type {record_type!r}")

    def public_view(self) -> dict[str, Any]:
        """The tunable settings as JSON (never the credentials)."""
        return {
            "account_id": self.account_id, "script": self.script, "deploy": self.deploy,
            **{name: getattr(self, name) for name in _SCALARS},
            "faults": self.faults.to_dict(),
            **{name: _sorted_or_none(getattr(self, name)) for name in _SETS},
            "currencies": dict(self.currencies),
            "required_fields": {k: list(v) for k, v in self.required_fields.items()},
            "oracle": self.expected_totals is not None,
        }


_SCALARS = (
    "concurrency_limit", "latency_per_call_ms", "latency_per_record_ms", "usage_limit",
    "usage_reserve", "clock_skew_s", "batch_cap",
)
_SETS = ("valid_items", "valid_currencies", "valid_subsidiaries")


def _sorted_or_none(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def totals_oracle(figures: Mapping[str, Any] | None) -> Callable[[str, str], Decimal | None] | None:
    """An ``expected_totals`` oracle from JSON: ``{"invoice:<lago id>": "12.34", ...}`` (None: no oracle).

    Lets a sandbox running in another process (the demo) check documents against Lago's totals.
    """
    if figures is None:
        return None
    table = {str(key): Decimal(str(value)) for key, value in dict(figures).items()}
    for key in table:
        if ":" not in key:
            raise ValueError(f"expected_totals keys are 'kind:lago_id', got {key!r}")
    return lambda kind, lago_id: table.get(f"{kind}:{lago_id}")


def apply_update(config: NetSuiteSandboxConfig, update: Mapping[str, Any]) -> NetSuiteSandboxConfig:
    """Return a copy of ``config`` with the JSON ``update`` applied (unknown keys raise ValueError)."""
    allowed = set(_SCALARS) | set(_SETS) | {"faults", "currencies", "expected_totals", "required_fields"}
    unknown = set(update) - allowed
    if unknown:
        raise ValueError(f"not settable through /_sandbox/config: {sorted(unknown)}")
    changes: dict[str, Any] = {}
    scalar_types = {f.name: f.type for f in fields(config)}
    for name in _SCALARS:
        if name in update:
            caster = int if scalar_types[name] == "int" else float
            changes[name] = caster(update[name])
    for name in _SETS:
        if name in update:
            changes[name] = None if update[name] is None else {str(v) for v in update[name]}
    if "currencies" in update:
        changes["currencies"] = {str(k): str(v) for k, v in dict(update["currencies"]).items()}
    if "required_fields" in update:
        changes["required_fields"] = {str(k): [str(f) for f in v]
                                      for k, v in dict(update["required_fields"] or {}).items()}
    if "faults" in update:
        changes["faults"] = FaultConfig.from_dict(update["faults"])
    if "expected_totals" in update:
        changes["expected_totals"] = totals_oracle(update["expected_totals"])
    new = replace(config, **changes)
    new.validate()
    return new
