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
