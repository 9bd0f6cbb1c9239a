"""Counters the sandbox keeps so tests and benchmarks can see what the loader made it do."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxStats:
    """What happened since start or the last reset; served by ``GET /_sandbox/stats``."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, status) -> count
    throttled: int = 0
    in_flight: int = 0
    max_concurrency_seen: int = 0
    auth_failures: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    records_received: int = 0
    records_created: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    duplicates_prevented: int = 0

    def count_call(self, method: str, status: int | str) -> None:
        """Count one RESTlet call by method and final status (``aborted`` when the connection dropped)."""
        self.calls[(method, str(status))] += 1

    def enter(self) -> None:
        """An authenticated call starts running."""
        self.in_flight += 1
        self.max_concurrency_seen = max(self.max_concurrency_seen, self.in_flight)

    def leave(self) -> None:
        """An authenticated call stops running."""
        self.in_flight -= 1

    def to_json(self) -> dict[str, Any]:
        """JSON form: calls by method, by status and by ``"METHOD status"``, plus the other counters."""
        by_method: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        for (method, status), count in self.calls.items():
            by_method[method] += count
            by_status[status] += count
        return {
            "calls": {
                "total": sum(self.calls.values()),
                "by_method": dict(by_method),
                "by_status": dict(by_status),
                "by_method_status": {f"{m} {s}": n for (m, s), n in sorted(self.calls.items())},
            },
            "throttled": self.throttled,
            "in_flight": self.in_flight,
            "max_concurrency_seen": self.max_concurrency_seen,
            "auth_failures": dict(self.auth_failures),
            "faults_injected": dict(self.faults_injected),
            "records_received": self.records_received,
            "records_created": dict(self.records_created),
            "results": dict(self.results),
            "duplicates_prevented": self.duplicates_prevented,
        }
