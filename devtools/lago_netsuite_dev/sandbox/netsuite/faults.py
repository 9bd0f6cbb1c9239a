"""Fault injection: decides which calls and records of the sandbox misbehave, and how.

Scripted rules make a test reproduce one case exactly ("the next two POSTs answer 503", "record
lago-invoice-7 fails with RCRD_HAS_BEEN_CHANGED once"); seeded random rates exercise the loader
under a steady mix of faults. Scripted rules always win over random draws.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lago_netsuite_dev.sandbox.netsuite.config import CALL_FAULTS, FaultConfig

# Which reference an injected invalid_reference blames, per record type, when the rule names none.
_DEFAULT_REFERENCE_FIELD = {
    "customer": "subsidiary",
    "invoice": "entity",
    "salesorder": "entity",
    "creditmemo": "entity",
    "customerpayment": "customer",
}


@dataclass(frozen=True)
class RecordFault:
    """A record-level fault to answer instead of creating the record."""

    kind: str
    code: str
    message: str


class FaultInjector:
    """Stateful decisions over a :class:`FaultConfig`: rule counters and the seeded generator."""

    def __init__(self, config: FaultConfig, injected: Counter[str] | None = None) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._call_seen = [0] * len(config.calls)  # matching calls seen per rule
        self._record_left = [rule.times for rule in config.records]
        self.injected: Counter[str] = Counter() if injected is None else injected

    def next_call_fault(self, method: str) -> str | None:
        """Return the fault kind for this authenticated call, or None for a normal call."""
        for index, rule in enumerate(self.config.calls):
            if rule.method is not None and rule.method != method:
                continue
            seen = self._call_seen[index]
            if seen >= rule.skip + rule.calls:
                continue
            self._call_seen[index] = seen + 1
            if seen < rule.skip:
                continue
            self.injected[rule.kind] += 1
            return rule.kind
        rates = [(kind, self.config.rates.get(kind, 0.0)) for kind in CALL_FAULTS]
        if any(rate for _, rate in rates):
            draw = self._rng.random()
            cumulative = 0.0
            for kind, rate in rates:
                cumulative += rate
                if draw < cumulative:
                    self.injected[kind] += 1
                    return kind
        return None

    def record_fault(self, record_type: str, external_id: str, record: dict[str, Any]) -> RecordFault | None:
        """Return the fault for a record about to be created, or None to create it normally."""
        for index, rule in enumerate(self.config.records):
            if rule.external_id != external_id or self._record_left[index] <= 0:
                continue
            self._record_left[index] -= 1
            self.injected[rule.kind] += 1
            if rule.kind == "rcrd_has_been_changed":
                return _changed(rule.code, rule.message)
            if rule.kind == "invalid_reference":
                return _invalid_reference(record_type, record, rule.field, rule.code, rule.message)
            return RecordFault("record_error", str(rule.code), rule.message or f"Injected error {rule.code}.")
        for kind in ("rcrd_has_been_changed", "invalid_reference"):
            rate = self.config.rates.get(kind, 0.0)
            if rate and self._rng.random() < rate:
                self.injected[kind] += 1
                if kind == "rcrd_has_been_changed":
                    return _changed(None, None)
                return _invalid_reference(record_type, record, None, None, None)
        return None


def _changed(code: str | None, message: str | None) -> RecordFault:
    return RecordFault(
        "rcrd_has_been_changed",
        code or "RCRD_HAS_BEEN_CHANGED",
        message or "Record has been changed since you retrieved it; please try again.",
    )


def _invalid_reference(
    record_type: str, record: dict[str, Any], field: str | None, code: str | None, message: str | None
) -> RecordFault:
    name = field or _DEFAULT_REFERENCE_FIELD.get(record_type, "entity")
    value = _field_value(record, name)
    return RecordFault(
        "invalid_reference",
        code or "INVALID_KEY_OR_REF",
        message or f"Invalid {name} reference key {value}.",
    )


def _field_value(record: dict[str, Any], name: str) -> Any:
    """The value a reference fault blames: the body field, else the first sublist line that has it."""
    columns = record.get("columns")
    if isinstance(columns, dict) and name in columns:
        return columns[name]
    for sublist in record.get("lines") or []:
        for row in (sublist.get("lineItems") or []) if isinstance(sublist, dict) else []:
            if isinstance(row, dict) and name in row:
                return row[name]
    return ""
