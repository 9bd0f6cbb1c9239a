"""The sandbox's records: what NetSuite would hold, plus the in-flight creations of running calls.

Find-or-create is atomic because every check-and-reserve runs without an ``await`` in between on
the server's event loop (and under a lock, so a test thread reading the store sees a consistent
view). A creation is *reserved* (its externalId taken, its internal id assigned) before it is
*committed* (visible to look-ups); another call that meets a reservation gets
``RCRD_HAS_BEEN_CHANGED``, as NetSuite answers while a previous call is still saving the record.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass
class StoredRecord:
    """A record the sandbox accepted: the body as received (floats parsed as Decimal) and its totals."""

    type: str
    id: str
    external_id: str
    body: dict[str, Any]
    lines_total: str | None = None
    tax_total: str | None = None
    total: str | None = None
    created_at: str = field(default_factory=lambda: _now())
    voided: bool = False
    voided_at: str | None = None
    seeded: bool = False
    # Contract 2 (see balances.py): what other records took from this one's amount remaining, and
    # this record's own apply lines ``{doc id: amount}`` (a memo's grow with ``apply`` actions).
    credited: Decimal = field(default_factory=Decimal)
    applications: dict[str, Decimal] = field(default_factory=dict)
    modified_at: str | None = None  # last edit after creation (the payments listing's lastModified)

    @property
    def last_modified(self) -> str:
        """When the record last changed: created, edited or voided (ISO 8601 UTC)."""
        return max(s for s in (self.created_at, self.modified_at, self.voided_at) if s)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (Decimals become JSON numbers, exactly) for ``/_sandbox/records``.

        ``amount_remaining`` (invoices and credit memos): what is still due on the invoice, or still
        unapplied on the memo, after payments, applications and refunds (0 once voided), as a
        decimal string; ``applications``: the record's apply lines ``{doc id: amount}``.
        """
        from lago_netsuite_dev.sandbox.netsuite.balances import remaining

        left = remaining(self)
        return {
            "type": self.type, "id": self.id, "externalId": self.external_id,
            "body": jsonable(self.body), "lines_total": self.lines_total, "tax_total": self.tax_total,
            "total": self.total, "created_at": self.created_at, "voided": self.voided,
            "voided_at": self.voided_at, "seeded": self.seeded, "last_modified": self.last_modified,
            "amount_remaining": None if left is None else str(left),
            "applications": {doc: str(amount) for doc, amount in self.applications.items()},
        }


@dataclass
class _Reservation:
    call_id: int
    record: StoredRecord


class RecordStore:
    """Committed records by (type, externalId) and by internal id, plus reservations in flight."""

    def __init__(self, first_id: int = 1001) -> None:
        self._lock = threading.Lock()
        self._first_id = first_id
        self.reset()

    def reset(self) -> None:
        """Forget every record and reservation."""
        with self._lock:
            self._by_key: dict[tuple[str, str], StoredRecord] = {}
            self._by_id: dict[str, StoredRecord] = {}
            self._reserved: dict[tuple[str, str], _Reservation] = {}
            self._next_id = self._first_id

    def find(self, record_type: str, external_id: str) -> StoredRecord | None:
        """The committed record of this type with this externalId, if any."""
        with self._lock:
            return self._by_key.get((record_type, external_id))

    def reservation(self, record_type: str, external_id: str) -> tuple[int, StoredRecord] | None:
        """``(call id, record)`` of a creation in flight for this key, if any."""
        with self._lock:
            res = self._reserved.get((record_type, external_id))
            return (res.call_id, res.record) if res else None

    def by_id(self, record_id: str, record_type: str, call_id: int | None = None) -> StoredRecord | None:
        """The record with this internal id and type: committed, or reserved by ``call_id`` itself."""
        with self._lock:
            record = self._by_id.get(record_id)
            if record is None and call_id is not None:
                own = (r.record for r in self._reserved.values() if r.call_id == call_id)
                record = next((r for r in own if r.id == record_id), None)
            return record if record is not None and record.type == record_type else None

    def invoices(self, call_id: int | None = None) -> list[StoredRecord]:
        """Committed invoices, plus those ``call_id`` itself is creating."""
        with self._lock:
            found = [r for r in self._by_id.values() if r.type == "invoice"]
            found += [r.record for r in self._reserved.values()
                      if r.call_id == call_id and r.record.type == "invoice"]
        return found

    def reserve(self, record: StoredRecord, call_id: int) -> StoredRecord:
        """Take the record's key for ``call_id`` and give it a fresh internal id (caller checked the key)."""
        with self._lock:
            key = (record.type, record.external_id)
            if key in self._by_key or key in self._reserved:
                raise RuntimeError(f"{key} is already taken")  # a bug in the caller, never a client error
            record.id = str(self._next_id)
            self._next_id += 1
            self._reserved[key] = _Reservation(call_id, record)
            return record

    def commit(self, record: StoredRecord) -> None:
        """Make a reserved record visible; it becomes findable by externalId and by id."""
        with self._lock:
            key = (record.type, record.external_id)
            self._reserved.pop(key, None)
            record.created_at = _now()
            self._by_key[key] = record
            self._by_id[record.id] = record
            self._take(record, 1)

    def _take(self, record: StoredRecord, sign: int) -> None:
        """Add (or, voided, give back) what ``record`` takes from the records it applies to (under the lock)."""
        from lago_netsuite_dev.sandbox.netsuite.balances import effects

        for doc, amount in effects(record):
            target = record if doc == record.id else self._by_id.get(doc)
            if target is not None:
                target.credited += sign * amount

    def set_applications(self, memo: StoredRecord, lines: dict[str, Decimal]) -> None:
        """Set a committed memo's apply lines to exactly ``lines`` (the contract-2 ``apply``)."""
        with self._lock:
            self._take(memo, -1)
            memo.applications.update(lines)
            memo.applications = {doc: amount for doc, amount in memo.applications.items() if amount}
            self._take(memo, 1)
            memo.modified_at = _now()

    def release(self, record: StoredRecord) -> None:
        """Drop a reservation that will never be committed."""
        with self._lock:
            self._reserved.pop((record.type, record.external_id), None)

    def void(self, record: StoredRecord) -> None:
        """Mark a committed record voided (idempotent)."""
        with self._lock:
            if not record.voided:
                self._take(record, -1)
                record.voided = True
                record.voided_at = _now()

    def touch(self, record: StoredRecord) -> None:
        """Mark a committed record edited now (its ``last_modified`` moves)."""
        with self._lock:
            record.modified_at = _now()

    def seed(self, record: StoredRecord) -> StoredRecord:
        """Add a pre-existing record; its id is kept when given and never handed out again."""
        with self._lock:
            key = (record.type, record.external_id)
            if key in self._reserved:
                raise ValueError(f"{record.type} {record.external_id} is being created by a running call")
            if not record.id:
                record.id = str(self._next_id)
                self._next_id += 1
            other = self._by_id.get(record.id)
            if other is not None and (other.type, other.external_id) != key:
                raise ValueError(f"id {record.id} already belongs to {other.type} {other.external_id}")
            old = self._by_key.get(key)
            if old is not None:
                self._by_id.pop(old.id, None)
            record.seeded = True
            self._by_key[key] = record
            self._by_id[record.id] = record
            if record.id.isdigit():
                self._next_id = max(self._next_id, int(record.id) + 1)
            return record

    def records(self, record_type: str | None = None) -> list[StoredRecord]:
        """Committed records (optionally of one type), by internal id."""
        with self._lock:
            found = [r for r in self._by_id.values() if record_type is None or r.type == record_type]
        return sorted(found, key=lambda r: (len(r.id), r.id))


def jsonable(value: Any) -> Any:
    """Copy ``value`` with every Decimal turned into the JSON number with the same digits."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if value == value.to_integral_value() and isinstance(exponent, int) and exponent >= 0:
            return int(value)
        if len(value.as_tuple().digits) <= 15:
            return float(value)  # repr of a float gives these <= 15 significant digits back exactly
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
