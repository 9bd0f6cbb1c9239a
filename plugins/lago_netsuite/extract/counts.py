"""What one extraction did, per stream: the counts every extract step adds to and the run report shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ExtractCounts:
    """What one extraction did, per stream."""

    listed: dict[str, int] = field(default_factory=dict)
    detail_fetches: int = 0
    stored: dict[str, dict[str, int]] = field(default_factory=dict)
    referenced_invoices_fetched: int = 0
    customers_fetched: int = 0
    customer_calls: int = 0
    late_calls: int = 0  # Lago calls of the late-change lists (extract/late.py)
    late_changed: list[str] = field(default_factory=list)  # synced documents those lists showed changed
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def add(self, other: ExtractCounts) -> None:
        """Add what another extraction (a slice of the same run) did."""
        for key, value in other.listed.items():
            self.listed[key] = self.listed.get(key, 0) + value
        for key, stored in other.stored.items():
            acc = self.stored.setdefault(key, {})
            for name, n in stored.items():
                acc[name] = acc.get(name, 0) + n
        self.detail_fetches += other.detail_fetches
        self.referenced_invoices_fetched += other.referenced_invoices_fetched
        self.customers_fetched += other.customers_fetched
        self.customer_calls += other.customer_calls
        self.late_calls += other.late_calls
        self.late_changed += other.late_changed
        self.errors += other.errors
