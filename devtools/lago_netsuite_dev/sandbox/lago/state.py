"""Mutable state of a running Lago sandbox: documents, configuration, rate limiter, statistics.

Kept apart from the FastAPI wiring so tests can read and change it directly
(``app.state.sandbox``) as well as through the ``/_sandbox/`` admin endpoints.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, fields

from .generator import LagoDataset
from .mutations import reissue_invoice
from .store import ApiError, Collection, invoice_key, newest_first_key

#: name -> (singular, field the show endpoint looks up)
COLLECTIONS: dict[str, tuple[str, str]] = {
    "invoices": ("invoice", "lago_id"),
    "credit_notes": ("credit_note", "lago_id"),
    "payments": ("payment", "lago_id"),
    "customers": ("customer", "external_id"),
    "wallets": ("wallet", "lago_id"),
    "plans": ("plan", "code"),
    "taxes": ("tax", "code"),
    "coupons": ("coupon", "code"),
    "add_ons": ("add_on", "code"),
    "billable_metrics": ("billable_metric", "code"),
    "billing_entities": ("billing_entity", "code"),
}
#: Collections the admin endpoint may add documents to or replace documents in.
WRITABLE = ("invoices", "credit_notes", "payments", "customers", "wallets")


@dataclass
class SandboxConfig:
    """Behaviour knobs, changed between test steps with ``POST /_sandbox/config``.

    Attributes:
        rate_limit_per_s: requests allowed per window (``None``: unlimited).
        rate_limit_window_s: length of the fixed rate-limit window (Lago: 1 s).
        send_rate_limit_headers: send ``X-RateLimit-*`` (self-hosted Lago sends none).
        fail_next: answer the next N API calls with ``fail_status``.
        fail_status: the 5xx status injected.
        fail_path: only inject on paths containing this text (``None``: any path).
        latency_ms: added to every API call.
        shift_on_list: insert a new invoice at the top of the list before each ``GET /invoices``.
        fail_after_commit_next: the next N ``POST /payments`` commit, then answer ``fail_status``.
    """

    rate_limit_per_s: int | None = 50
    rate_limit_window_s: float = 1.0
    send_rate_limit_headers: bool = True
    fail_next: int = 0
    fail_status: int = 500
    fail_path: str | None = None
    latency_ms: int = 0
    shift_on_list: bool = False
    fail_after_commit_next: int = 0

    def update(self, changes: dict) -> None:
        """Apply a partial update; unknown keys or wrong types answer 422."""
        known = {f.name: f for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ApiError(422, "Unprocessable Entity", "validation_errors", {key: ["unknown_setting"]})
            integer = ("fail_next", "fail_status", "latency_ms", "fail_after_commit_next")
            if key in integer and not isinstance(value, int):
                raise ApiError(422, "Unprocessable Entity", "validation_errors", {key: ["must_be_an_integer"]})
            setattr(self, key, value)


class RateLimiter:
    """Fixed windows aligned on the wall clock, counting the requests let through, as Lago does."""

    def __init__(self) -> None:
        self.window = -1
        self.count = 0

    def hit(self, limit: int | None, window_s: float) -> tuple[bool, dict[str, str]]:
        """Count one request; returns (allowed, rate-limit headers)."""
        if limit is None:
            return True, {}
        now = time.time()
        window = int(now // window_s)
        if window != self.window:
            self.window, self.count = window, 0
        allowed = self.count < limit
        if allowed:
            self.count += 1
        reset = max(1, math.ceil((window + 1) * window_s - now))
        return allowed, {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - self.count, 0)),
            "X-RateLimit-Reset": str(reset),
        }


class SandboxState:
    """Documents, configuration and statistics of one sandbox app."""

    def __init__(self, dataset: LagoDataset, api_key: str, config: SandboxConfig) -> None:
        self.dataset, self.api_key = dataset, api_key
        self._initial_config = asdict(config)
        self.config = config
        self.collections: dict[str, Collection] = {}
        self.limiter = RateLimiter()
        self.rng = random.Random(f"lago-sandbox:{dataset.spec.seed}")
        self.reset_documents()
        self.reset_stats()

    def reset_documents(self) -> None:
        """Serve the dataset as generated again (admin changes undone)."""
        d = self.dataset
        sources = {
            "invoices": d.invoices,
            "credit_notes": d.credit_notes,
            "payments": d.payments,
            "customers": d.customers,
            "wallets": d.wallets,
            **d.catalog_documents(),
        }
        for name, (singular, show_field) in COLLECTIONS.items():
            collection = Collection(name, singular, show_field, invoice_key if name == "invoices" else newest_first_key)
            collection.load([dict(doc) for doc in sources[name]])  # shallow copies: edits stay local
            self.collections[name] = collection
        self.entity_codes = frozenset(e["code"] for e in d.billing_entities)
        self.spawned = 0

    def reset_stats(self) -> None:
        """Forget every request counted so far."""
        self.counts: dict[str, Counter] = {}
        self.throttled = self.faults_injected = 0
        self.recent: deque[dict] = deque(maxlen=500)

    def reset_config(self) -> None:
        """Back to the configuration the app was created with (and a fresh rate-limit window)."""
        self.config = SandboxConfig(**self._initial_config)
        self.limiter = RateLimiter()

    def record(self, endpoint: str, path: str, query: str, status: int) -> None:
        """Count one request (never its headers: the API key stays out of the stats)."""
        self.counts.setdefault(endpoint, Counter())[str(status)] += 1
        if status == 429:
            self.throttled += 1
        self.recent.append({"endpoint": endpoint, "path": path, "query": query, "status": status})

    def stats(self) -> dict:
        """Request counts by endpoint and status, throttled and injected-fault counts, recent calls."""
        by_status: Counter = Counter()
        for counter in self.counts.values():
            by_status.update(counter)
        return {
            "requests": {k: dict(v) for k, v in self.counts.items()},
            "by_status": dict(by_status),
            "total": sum(by_status.values()),
            "throttled": self.throttled,
            "faults_injected": self.faults_injected,
            "spawned_invoices": self.spawned,
            "documents": {name: len(c) for name, c in self.collections.items()},
            "recent": list(self.recent),
        }

    def spawn_invoice(self) -> dict | None:
        """Insert a new finalized invoice at the top of the invoice list (None if there is none to copy)."""
        invoices = self.collections["invoices"]
        top = invoices.first()
        template = next((d for d in invoices.head(500) if d["status"] == "finalized" and d.get("fees")), None)
        if top is None or template is None:
            return None
        self.spawned += 1
        doc = reissue_invoice(template, self.rng, 90000 + self.spawned, top["issuing_date"], after=top["created_at"])
        invoices.upsert(doc)
        return doc

    def replace_customer_everywhere(self, customer: dict) -> None:
        """Invoices and credit notes embed the customer as it is now, as Lago's serializers do."""
        for name in ("invoices", "credit_notes"):
            collection = self.collections[name]
            for doc in collection.documents():
                if doc["customer"]["lago_id"] == customer["lago_id"]:
                    collection.upsert({**doc, "customer": customer})
