"""In-memory document collections of the Lago sandbox, kept in Lago's list order.

Each collection holds its documents sorted once by Lago's ordering for the list endpoint
(invoices: ``issuing_date desc, created_at desc, id asc``; the others ``created_at desc, id asc``),
with an index by id and by the key the show endpoint uses. Inserts keep the order with
``bisect``; invoice date windows are cut with ``bisect`` too, and a filtered selection is cached
until the next change, so paging through tens of thousands of documents costs one scan per
filter set, not one sort per request.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, datetime

from .common import parse_datetime

Predicate = Callable[[dict], bool]
_EPOCH = datetime(1970, 1, 1)


class ApiError(Exception):
    """An error answered with Lago's error body (``{status, error[, code][, error_details]}``)."""

    def __init__(self, status: int, error: str, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(f"{status} {error} {code or ''}".strip())
        self.status, self.error, self.code, self.details = status, error, code, details

    def body(self) -> dict:
        """The JSON body Lago sends for this error."""
        out: dict = {"status": self.status, "error": self.error}
        if self.code:
            out["code"] = self.code
        if self.details is not None:
            out["error_details"] = self.details
        return out


def _seconds(stamp: str | None) -> int:
    return int((parse_datetime(stamp) - _EPOCH).total_seconds()) if stamp else 0


def newest_first_key(doc: dict) -> tuple:
    """Sort key of ``created_at desc, id asc``."""
    return (-_seconds(doc.get("created_at")), doc.get("lago_id") or "")


def invoice_key(doc: dict) -> tuple:
    """Sort key of ``issuing_date desc, created_at desc, id asc``."""
    return (-date.fromisoformat(doc["issuing_date"]).toordinal(), -_seconds(doc.get("created_at")), doc["lago_id"])


class Collection:
    """Documents of one kind in list order, indexed by ``lago_id`` and by their show key."""

    def __init__(self, name: str, singular: str, show_field: str, sort_key: Callable[[dict], tuple]) -> None:
        self.name, self.singular, self.show_field, self.sort_key = name, singular, show_field, sort_key
        self._keys: list[tuple] = []
        self._docs: list[dict] = []
        self._by_id: dict[str, dict] = {}
        self._by_show: dict[str, dict] = {}
        self._cache: OrderedDict[Hashable, list[dict]] = OrderedDict()
        self.version = 0

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def not_found_code(self) -> str:
        """Lago's 404 code for this resource (``invoice_not_found``...)."""
        return f"{self.singular}_not_found"

    def load(self, docs: list[dict]) -> None:
        """Replace every document (one sort)."""
        pairs = sorted(((self.sort_key(d), d) for d in docs), key=lambda p: p[0])
        self._keys = [k for k, _ in pairs]
        self._docs = [d for _, d in pairs]
        self._by_id = {d.get("lago_id") or d[self.show_field]: d for d in self._docs}
        self._by_show = {d[self.show_field]: d for d in self._docs}
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def _identity(self, doc: dict) -> str:
        return doc.get("lago_id") or doc[self.show_field]

    def upsert(self, doc: dict) -> dict | None:
        """Insert or replace (same ``lago_id``) a document; returns the replaced one, if any."""
        key = self.sort_key(doc)  # first, so a malformed document changes nothing
        previous = self._by_id.get(self._identity(doc))
        if previous is not None:
            self._remove(previous)
        at = bisect.bisect_left(self._keys, key)
        self._keys.insert(at, key)
        self._docs.insert(at, doc)
        self._by_id[self._identity(doc)] = doc
        self._by_show[doc[self.show_field]] = doc
        self._changed()
        return previous

    def remove(self, doc: dict) -> None:
        """Remove a stored document."""
        self._remove(doc)
        self._changed()

    def _remove(self, doc: dict) -> None:
        key = self.sort_key(doc)
        at = bisect.bisect_left(self._keys, key)
        while self._docs[at] is not doc:
            at += 1
        del self._keys[at], self._docs[at]
        self._by_id.pop(self._identity(doc), None)
        if self._by_show.get(doc[self.show_field]) is doc:
            del self._by_show[doc[self.show_field]]

    def by_id(self, lago_id: str) -> dict | None:
        """The document with this ``lago_id``."""
        return self._by_id.get(lago_id)

    def show(self, key: str) -> dict:
        """The document the show endpoint returns for ``key``, or Lago's 404."""
        doc = self._by_show.get(key)
        if doc is None:
            raise ApiError(404, "Not Found", self.not_found_code)
        return doc

    def first(self) -> dict | None:
        """The first document in list order (the newest)."""
        return self._docs[0] if self._docs else None

    def head(self, count: int) -> list[dict]:
        """The first ``count`` documents in list order."""
        return self._docs[:count]

    def documents(self) -> list[dict]:
        """Every document in list order (a copy of the list, not of the documents)."""
        return list(self._docs)

    def select(
        self, cache_key: Hashable, predicate: Predicate | None, window: tuple[tuple, tuple] | None = None
    ) -> list[dict]:
        """Documents matching ``predicate`` within the sort-key ``window``, in list order (cached)."""
        cached = self._cache.get(cache_key)
        if cached is not None:
            self._cache.move_to_end(cache_key)
            return cached
        low, high = 0, len(self._docs)
        if window is not None:
            low = bisect.bisect_left(self._keys, window[0])
            high = bisect.bisect_left(self._keys, window[1])
        docs = self._docs[low:high]
        result = docs if predicate is None else [d for d in docs if predicate(d)]
        self._cache[cache_key] = result
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return result


def paginate(docs: list[dict], page: int, per_page: int) -> tuple[list[dict], dict]:
    """One page of ``docs`` and Lago's ``meta`` block for it."""
    total = len(docs)
    pages = -(-total // per_page)
    start = (page - 1) * per_page
    meta = {
        "current_page": page,
        "next_page": page + 1 if page < pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": pages,
        "total_count": total,
    }
    return docs[start : start + per_page], meta
