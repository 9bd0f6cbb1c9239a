"""Seeded, deterministic generator of Lago-consistent billing data (domain.md §1).

``generate(spec)`` builds a whole :class:`LagoDataset` (catalog, customers, wallets, invoices with
fees and credits, credit notes, payments) for small and medium sets; ``iter_invoice_bundles(spec)``
streams ``(invoice, credit_notes, payments)`` so 100,000 invoices never sit in memory at once.
Both give the same documents for the same spec.

Invoices are grouped by customer: customer ``c`` owns the invoice indexes
``[first_c, first_c + count_c)`` and its history is generated (and held) as one unit, because
credit-note balances, progressive-billing credits and coupons link a customer's invoices. Each
invoice's content comes from an RNG seeded with ``(seed, index)``. Documents are plain dicts in
Lago's JSON shapes; nested catalog-derived objects (the invoice's ``customer``, a credit-note
item's ``fee``) are shared references — treat documents as read-only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from .arithmetic import check_credit_note_arithmetic, check_fee, check_invoice_arithmetic
from .catalog import Catalog, build_catalog
from .customers import CustomerProfile, build_customers
from .history import CustomerHistory, InvoiceBundle

__all__ = [
    "DatasetSpec",
    "InvoiceBundle",
    "LagoDataset",
    "check_credit_note_arithmetic",
    "check_fee",
    "check_invoice_arithmetic",
    "generate",
    "iter_invoice_bundles",
    "build_catalog",
    "invoice_counts",
]


@dataclass(frozen=True)
class DatasetSpec:
    """What to generate. Dates may be given as ``date`` or ISO strings.

    Attributes:
        seed: same seed, same documents (ids included).
        customers: number of customers (spread over the four billing entities).
        invoices: number of invoices (spread unevenly over the customers).
        start_date, end_date: invoices are issued in this inclusive range; drafts sit in its last week.
        credit_note_share: share of eligible finalized invoices that get a credit note.
        netsuite_share: share of customers linked to a NetSuite customer (``integration_customers``).
        as_of_end: date nothing after ``end_date``: credit notes, payments and voids that would
            follow an invoice later are moved back to ``end_date`` (a dataset "as of today").
    """

    seed: int = 42
    customers: int = 60
    invoices: int = 600
    start_date: date | str = date(2025, 1, 1)
    end_date: date | str = date(2025, 6, 30)
    credit_note_share: float = 0.12
    netsuite_share: float = 0.6
    as_of_end: bool = False

    def __post_init__(self) -> None:
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, date.fromisoformat(value))
        if self.end < self.start:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        if self.customers < 1 or self.invoices < 0:
            raise ValueError("a dataset needs at least one customer and a non-negative number of invoices")

    @property
    def start(self) -> date:
        """``start_date`` as a date (strings are parsed on construction)."""
        assert isinstance(self.start_date, date)
        return self.start_date

    @property
    def end(self) -> date:
        """``end_date`` as a date."""
        assert isinstance(self.end_date, date)
        return self.end_date


@dataclass
class LagoDataset:
    """Every document of a generated dataset, as Lago's API would serve them."""

    spec: DatasetSpec
    billing_entities: list[dict]
    taxes: list[dict]
    billable_metrics: list[dict]
    add_ons: list[dict]
    plans: list[dict]
    coupons: list[dict]
    customers: list[dict]
    wallets: list[dict] = field(default_factory=list)
    invoices: list[dict] = field(default_factory=list)
    credit_notes: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)

    def catalog_documents(self) -> dict[str, list[dict]]:
        """The catalog collections by their Lago API name (``plans``, ``add_ons``, ...)."""
        return {
            "billing_entities": self.billing_entities,
            "taxes": self.taxes,
            "billable_metrics": self.billable_metrics,
            "add_ons": self.add_ons,
            "plans": self.plans,
            "coupons": self.coupons,
        }


def invoice_counts(spec: DatasetSpec) -> list[int]:
    """How many invoices each customer gets: uneven weights, exact total (largest remainder)."""
    rng = random.Random(f"lago-counts:{spec.seed}")
    weights = [rng.uniform(0.2, 1.8) for _ in range(spec.customers)]
    total = sum(weights)
    shares = [spec.invoices * w / total for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(spec.customers), key=lambda i: (shares[i] - counts[i], -i), reverse=True)
    for i in by_remainder[: spec.invoices - sum(counts)]:
        counts[i] += 1
    return counts


def _setup(spec: DatasetSpec) -> tuple[Catalog, list[CustomerProfile]]:
    catalog = build_catalog(spec.seed, spec.start)
    profiles = build_customers(spec.seed, spec.customers, catalog, spec.start, spec.netsuite_share)
    return catalog, profiles


def _histories(
    spec: DatasetSpec, catalog: Catalog, profiles: list[CustomerProfile]
) -> Iterator[tuple[list[InvoiceBundle], dict | None]]:
    first = 0
    for profile, count in zip(profiles, invoice_counts(spec), strict=True):
        history = CustomerHistory(
            spec.seed, catalog, profile, first, count, spec.start, spec.end, spec.credit_note_share,
            as_of_end=spec.as_of_end,
        )
        first += count
        yield history.generate()


def iter_invoice_bundles(spec: DatasetSpec) -> Iterator[InvoiceBundle]:
    """Yield ``(invoice, credit_notes, payments)`` per invoice, customer by customer.

    Memory stays bounded by one customer's history. The catalog and customers the invoices refer
    to are those of :func:`generate` for the same spec (or :func:`build_catalog` /
    ``customers.build_customers``).
    """
    catalog, profiles = _setup(spec)
    for bundles, _wallet in _histories(spec, catalog, profiles):
        yield from bundles


def generate(spec: DatasetSpec | None = None) -> LagoDataset:
    """Generate the whole dataset for ``spec`` (default: ``DatasetSpec()``) in memory."""
    spec = spec or DatasetSpec()
    catalog, profiles = _setup(spec)
    dataset = LagoDataset(
        spec=spec,
        billing_entities=catalog.billing_entities,
        taxes=catalog.taxes,
        billable_metrics=catalog.billable_metrics,
        add_ons=catalog.add_ons,
        plans=catalog.plans,
        coupons=catalog.coupons,
        customers=[p.doc for p in profiles],
    )
    for bundles, wallet in _histories(spec, catalog, profiles):
        for invoice, notes, payments in bundles:
            dataset.invoices.append(invoice)
            dataset.credit_notes.extend(notes)
            dataset.payments.extend(payments)
        if wallet is not None:
            dataset.wallets.append(wallet)
    return dataset
