"""What the sync ledger UI reads from the store: SQLAlchemy Core with binds, SQLite and PostgreSQL.

Every filter value reaches the database as a bound parameter. The documents list is sorted newest
first by ``(created_at, external_id)`` and paginated by keyset (migrations 0014 and 0017 index it,
alone and after ``state``, ``kind`` or the billing entity each row carries), so the millionth row
costs what the first does; joins to the Lago document and customer tables are added only when a
filter or the page's columns need them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lago_netsuite import money
from lago_netsuite.ledger import schema

STATES = ("pending", "sent", "synced", "waiting", "failed", "quarantined", "voided", "skipped")
KINDS = ("customer", "invoice", "salesorder", "creditnote", "payment")
#: Pseudo state: every document that has not (or not yet) reached NetSuite.
UNRESOLVED = "unresolved"
UNRESOLVED_STATES = ("pending", "sent", "waiting", "failed", "quarantined", "skipped")
RETRYABLE_STATES = ("failed", "quarantined")
MAX_PAGE = 200

L = schema.ledger
D = schema.document
C = schema.customer
# A customer row's own Lago record (ledger kind 'customer' keys lago_customer by lago_id).
C_SELF = schema.customer.alias("c_self")
# The Lago document kind a ledger kind was built from (a sales order comes from an invoice).
_DOC_KIND = sa.case((L.c.kind == "salesorder", "invoice"), else_=L.c.kind)


class BadFilter(ValueError):
    """A filter value the page cannot use (bad date, unknown state, broken cursor)."""


@dataclass(frozen=True)
class Filters:
    """The documents page's filters, as the user typed them (validated, never interpolated)."""

    state: str | None = None
    kind: str | None = None
    billing_entity: str | None = None
    currency: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    q: str | None = None

    @classmethod
    def parse(cls, **raw: str | None) -> Filters:
        clean = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in raw.items()}
        if clean.get("state") and clean["state"] not in (*STATES, UNRESOLVED):
            raise BadFilter(f"unknown state {clean['state']!r}")
        if clean.get("kind") and clean["kind"] not in KINDS:
            raise BadFilter(f"unknown kind {clean['kind']!r}")
        for key in ("date_from", "date_to"):
            if clean.get(key):
                try:
                    datetime.strptime(str(clean[key]), "%Y-%m-%d")
                except ValueError:
                    raise BadFilter(f"{key} must be a date YYYY-MM-DD") from None
        if clean.get("currency"):
            clean["currency"] = str(clean["currency"]).upper()[:3]
        if clean.get("q"):
            clean["q"] = str(clean["q"])[:255]
        return cls(**clean)

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _conditions(f: Filters, *, with_state: bool = True) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    if with_state and f.state == UNRESOLVED:
        out.append(L.c.state.in_(UNRESOLVED_STATES))
    elif with_state and f.state:
        out.append(L.c.state == f.state)
    if f.kind:
        out.append(L.c.kind == f.kind)
    if f.currency:
        out.append(L.c.currency == f.currency)
    if f.date_from or f.date_to:
        # the documents issued in the range, found on the issuing-date index (a semi-join)
        d = D.alias("d_range")
        issued = sa.select(d.c.lago_id)
        if f.date_from:
            issued = issued.where(d.c.issuing_date >= f.date_from)
        if f.date_to:
            issued = issued.where(d.c.issuing_date <= f.date_to)
        out.append(L.c.lago_id.in_(issued))
    if f.billing_entity:
        # kept on the ledger row (migration 0017): the page and the counts read an index
        out.append(L.c.billing_entity_code == f.billing_entity)
    if f.q:
        # exact matches, each on an index: number, Lago id, externalId, the customer's external id
        # (its documents and its own row); one IN over a UNION, so both databases use the indexes
        lq, d, c = L.alias("l_q"), D.alias("d_q"), C.alias("c_q")
        matches = sa.union(
            sa.select(lq.c.external_id).where(lq.c.number == f.q),
            sa.select(lq.c.external_id).where(lq.c.lago_id == f.q),
            sa.select(lq.c.external_id).where(lq.c.external_id == f.q),
            sa.select(lq.c.external_id).select_from(lq.join(d, d.c.lago_id == lq.c.lago_id))
            .where(d.c.customer_external_id == f.q),
            sa.select(lq.c.external_id).select_from(lq.join(c, c.c.lago_id == lq.c.lago_id))
            .where(lq.c.kind == "customer", c.c.external_id == f.q),
        )
        out.append(L.c.external_id.in_(sa.select(matches.subquery().c.external_id)))
    return out


def _joined() -> sa.FromClause:
    return (
        L.outerjoin(D, sa.and_(D.c.kind == _DOC_KIND, D.c.lago_id == L.c.lago_id))
        .outerjoin(C, C.c.external_id == D.c.customer_external_id)
        .outerjoin(C_SELF, sa.and_(L.c.kind == "customer", C_SELF.c.lago_id == L.c.lago_id))
    )


_ROW_COLUMNS = (
    L.c.external_id, L.c.kind, L.c.record_type, L.c.lago_id, L.c.number, L.c.currency, L.c.total_minor,
    L.c.state, L.c.netsuite_id, L.c.last_error_code, L.c.last_error_message, L.c.last_run_id, L.c.attempts,
    L.c.created_at, L.c.updated_at, L.c.synced_at, L.c.depends_on,
    D.c.issuing_date,
    sa.func.coalesce(D.c.customer_external_id, C_SELF.c.external_id).label("customer"),
    sa.func.coalesce(C.c.billing_entity_code, C_SELF.c.billing_entity_code).label("billing_entity"),
)


def encode_cursor(created_at: datetime, external_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), external_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, external_id = json.loads(raw)
        return datetime.fromisoformat(at), str(external_id)
    except (ValueError, TypeError):
        raise BadFilter("the page cursor is not valid; start from the first page") from None


def amount_text(total_minor: int | None, currency: str | None) -> str:
    """An amount in major units with the currency's exponent (``1234, EUR`` → ``12.34 EUR``)."""
    if total_minor is None or not currency:
        return ""
    try:
        return f"{money.to_major(int(total_minor), currency)} {currency}"
    except money.UnknownCurrencyError:
        return f"{total_minor} (minor units) {currency}"


def lago_amount(kind: str | None, payload: str | None) -> tuple[int, str] | None:
    """A Lago document's total and currency from the document as received (payments: its amount)."""
    if not payload:
        return None
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    cents, currency = ((doc.get("amount_cents"), doc.get("amount_currency")) if kind == "payment"
                       else (doc.get("total_amount_cents"), doc.get("currency")))
    if isinstance(cents, bool) or not isinstance(cents, int | str) or not isinstance(currency, str):
        return None
    try:
        return int(cents), currency
    except ValueError:
        return None


def plain_error(code: str | None, message: str | None) -> str:
    """The last error in words an accountant reads: the message, with its code in brackets."""
    if not code and not message:
        return ""
    if message and code:
        return f"{message} [{code}]"
    return str(message or code)


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0


def _row_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["amount"] = amount_text(d["total_minor"], d["currency"])
    d["error"] = plain_error(d.pop("last_error_code"), d.pop("last_error_message"))
    for key in ("created_at", "updated_at", "synced_at"):
        d[key] = d[key].isoformat(sep=" ", timespec="seconds") if d[key] else None
    d.pop("depends_on", None)
    return d


def documents(conn: Connection, f: Filters, *, cursor: str | None = None, limit: int = 50) -> Page:
    """One page of ledger rows matching ``f``, newest first, with the counts per state."""
    limit = max(1, min(limit, MAX_PAGE))
    where = _conditions(f)
    if cursor:
        at, ext = decode_cursor(cursor)
        # a row-value comparison: one range on the (created_at, external_id) index on both databases
        where.append(sa.tuple_(L.c.created_at, L.c.external_id) < sa.tuple_(sa.literal(at), sa.literal(ext)))
    # 1. the page's keys, from the ledger alone (its indexes); 2. their columns, joined
    newest = (L.c.created_at.desc(), L.c.external_id.desc())
    keys = [r.external_id for r in conn.execute(
        sa.select(L.c.external_id).where(*where).order_by(*newest).limit(limit + 1))]
    found = {r.external_id: r for r in conn.execute(
        sa.select(*_ROW_COLUMNS).select_from(_joined()).where(L.c.external_id.in_(keys)))} if keys else {}
    rows = [found[k] for k in keys if k in found]  # in the keys' order (no ORDER BY: the PK look-up stays)
    missing = {r.external_id: r.kind for r in rows[:limit] if r.total_minor is None and r.kind != "customer"}
    from_lago = _lago_amounts(conn, missing)
    next_cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].external_id) if len(rows) > limit else None
    counts = state_counts(conn, f)
    selected = f.state
    total = (sum(counts.get(s, 0) for s in UNRESOLVED_STATES) if selected == UNRESOLVED
             else counts.get(selected, 0) if selected else sum(counts.values()))
    out = []
    for r in rows[:limit]:
        d = _row_dict(r)
        if r.external_id in from_lago:
            minor, currency = from_lago[r.external_id]
            d.update(total_minor=minor, currency=currency, amount=amount_text(minor, currency))
        out.append(d)
    return Page(out, next_cursor, counts, total)


def _lago_amounts(conn: Connection, kinds: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Amounts of ledger rows that have none, read from their Lago documents."""
    if not kinds:
        return {}
    query = (sa.select(L.c.external_id, L.c.kind, D.c.payload)
             .select_from(L.join(D, sa.and_(D.c.kind == _DOC_KIND, D.c.lago_id == L.c.lago_id)))
             .where(L.c.external_id.in_(list(kinds))))
    out = {}
    for r in conn.execute(query):
        amount = lago_amount(r.kind, r.payload)
        if amount:
            out[r.external_id] = amount
    return out


def state_counts(conn: Connection, f: Filters) -> dict[str, int]:
    """How many rows of each state match the filters other than the state itself (exact)."""
    where = _conditions(f, with_state=False)
    query = sa.select(L.c.state, sa.func.count()).select_from(L).where(*where).group_by(L.c.state)
    return {state: int(n) for state, n in conn.execute(query)}


def run_dags(conn: Connection, run_ids: set[str]) -> dict[str, str]:
    """The DAG id of each run id the store's run table knows."""
    ids = [r for r in run_ids if r]
    if not ids:
        return {}
    t = schema.sync_run
    return {r.run_id: r.dag_id for r in conn.execute(sa.select(t.c.run_id, t.c.dag_id).where(t.c.run_id.in_(ids)))}


def document(conn: Connection, external_id: str) -> dict[str, Any] | None:
    """One ledger row with its events, the record sent, the Lago document and what it waits on."""
    row = conn.execute(sa.select(*_ROW_COLUMNS, L.c.payload.label("sent_body"), D.c.payload.label("lago_payload"),
                                 D.c.kind.label("lago_kind"), C.c.lago_id.label("customer_lago_id"))
                       .select_from(_joined()).where(L.c.external_id == external_id)).first()
    if row is None:
        return None
    out = _row_dict(row)
    if row.total_minor is None and (amount := lago_amount(row.kind, row.lago_payload)):
        out.update(total_minor=amount[0], currency=amount[1], amount=amount_text(*amount))
    out["depends_on"] = _json_list(row.depends_on)
    out["sent_body"] = _pretty(row.sent_body)
    out["lago_payload"] = _pretty(row.lago_payload)
    E = schema.event
    out["events"] = [
        {"at": e.at.isoformat(sep=" ", timespec="seconds"), "run_id": e.run_id, "from_state": e.from_state,
         "to_state": e.to_state, "code": e.code, "message": e.message, "netsuite_id": e.netsuite_id}
        for e in conn.execute(sa.select(E).where(E.c.external_id == external_id).order_by(E.c.at, E.c.event_id))
    ]
    waits: list[dict[str, Any]] = []
    if out["depends_on"]:
        found = {
            r.external_id: r for r in conn.execute(
                sa.select(L.c.external_id, L.c.kind, L.c.number, L.c.state, L.c.last_error_code,
                          L.c.last_error_message, L.c.netsuite_id).where(L.c.external_id.in_(out["depends_on"])))
        }
        for ext in out["depends_on"]:
            dep = found.get(ext)
            waits.append({"external_id": ext, "known": dep is not None,
                          "kind": dep.kind if dep else None, "number": dep.number if dep else None,
                          "state": dep.state if dep else "not in the ledger",
                          "netsuite_id": dep.netsuite_id if dep else None,
                          "error": plain_error(dep.last_error_code, dep.last_error_message) if dep else ""})
    out["waits_on"] = waits
    out["lago_kind"] = row.lago_kind
    out["customer_lago_id"] = row.customer_lago_id
    return out


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _pretty(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return text


def run_documents(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """The documents a run touched, with the state that run left each in and its current state."""
    E = schema.event
    last_at = (sa.select(E.c.external_id, sa.func.max(E.c.at).label("at"))
               .where(E.c.run_id == run_id).group_by(E.c.external_id).subquery())
    query = (
        sa.select(E.c.external_id, E.c.to_state.label("run_state"), E.c.code, E.c.message,
                  L.c.kind, L.c.number, L.c.state, L.c.currency, L.c.total_minor, L.c.netsuite_id)
        .select_from(E.join(last_at, sa.and_(E.c.external_id == last_at.c.external_id, E.c.at == last_at.c.at))
                     .outerjoin(L, L.c.external_id == E.c.external_id))
        .where(E.c.run_id == run_id).order_by(E.c.to_state, E.c.external_id)
    )
    seen: dict[str, dict[str, Any]] = {}
    rows = conn.execute(query).all()
    from_lago = _lago_amounts(conn, {r.external_id: r.kind for r in rows if r.total_minor is None and r.kind})
    for r in rows:
        minor, currency = from_lago.get(r.external_id, (r.total_minor, r.currency))
        seen[r.external_id] = {
            "external_id": r.external_id, "kind": r.kind, "number": r.number, "run_state": r.run_state,
            "state": r.state, "amount": amount_text(minor, currency), "netsuite_id": r.netsuite_id,
            "error": plain_error(r.code, r.message) if r.run_state not in ("synced", "voided") else "",
        }
    return list(seen.values())


def reconciliation(conn: Connection, date_from: str | None = None, date_to: str | None = None) -> list[dict[str, Any]]:
    """Per month, currency and kind: Lago's totals, what reached NetSuite, the difference, counts per state."""
    month = sa.func.substr(D.c.issuing_date, 1, 7).label("month")
    where: list[sa.ColumnElement[bool]] = [L.c.kind != "customer", D.c.issuing_date.is_not(None)]
    if date_from:
        where.append(D.c.issuing_date >= date_from)
    if date_to:
        where.append(D.c.issuing_date <= date_to)
    synced = sa.case((L.c.state == "synced", L.c.total_minor), else_=0)
    query = (
        sa.select(month, L.c.currency, L.c.kind, L.c.state, sa.func.count().label("n"),
                  sa.func.coalesce(sa.func.sum(L.c.total_minor), 0).label("lago"),
                  sa.func.coalesce(sa.func.sum(synced), 0).label("netsuite"))
        .select_from(L.join(D, sa.and_(D.c.kind == _DOC_KIND, D.c.lago_id == L.c.lago_id)))
        .where(*where).group_by(month, L.c.currency, L.c.kind, L.c.state)
    )
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(month: str, currency: str, kind: str, state: str, n: int, lago: int, netsuite: int,
            from_payload: bool = False) -> None:
        g = groups.setdefault((month, currency, kind), {"month": month, "currency": currency, "kind": kind,
                                                        "lago_minor": 0, "netsuite_minor": 0, "states": {},
                                                        "without_ledger_amount": 0})
        g["lago_minor"] += lago
        g["netsuite_minor"] += netsuite
        g["states"][state] = g["states"].get(state, 0) + n
        g["without_ledger_amount"] += n if from_payload else 0

    for r in conn.execute(query.where(L.c.total_minor.is_not(None))):
        add(r.month, r.currency or "", r.kind, r.state, int(r.n), int(r.lago), int(r.netsuite))
    # documents held back before they were built (quarantined at transform) have no amount in the
    # ledger: Lago's total is read from the document as received, so the month still adds up
    unbuilt = (sa.select(month, L.c.kind, L.c.state, D.c.payload)
               .select_from(L.join(D, sa.and_(D.c.kind == _DOC_KIND, D.c.lago_id == L.c.lago_id)))
               .where(*where, L.c.total_minor.is_(None)))
    for r in conn.execute(unbuilt):
        amount = lago_amount(r.kind, r.payload)
        minor, currency = amount if amount else (0, "")
        add(r.month, currency, r.kind, r.state, 1, minor, 0, from_payload=True)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2]), reverse=True):
        g = groups[key]
        g["difference_minor"] = g["lago_minor"] - g["netsuite_minor"]
        for name in ("lago", "netsuite", "difference"):
            g[name] = amount_text(g[f"{name}_minor"], g["currency"])
        g["unresolved"] = sum(n for s, n in g["states"].items() if s in UNRESOLVED_STATES)
        out.append(g)
    return out


def month_range(month: str) -> tuple[str, str]:
    """First and last day of ``YYYY-MM``."""
    import calendar

    year, mon = int(month[:4]), int(month[5:7])
    return f"{month}-01", f"{month}-{calendar.monthrange(year, mon)[1]:02d}"


def failed_scope(conn: Connection, f: Filters) -> dict[str, Any]:
    """What "retry every failed document of this filter" sends to the backfill: its range and kinds.

    The backfill takes an issuing-date range and document kinds; the range is the filter's own or,
    when it has none, the span of the matching failed documents' issuing dates.
    """
    where = [*_conditions(f, with_state=False), L.c.state.in_(RETRYABLE_STATES), L.c.kind != "customer"]
    query = (sa.select(sa.func.count(), sa.func.min(D.c.issuing_date), sa.func.max(D.c.issuing_date))
             .select_from(_joined()).where(*where))
    n, first, last = conn.execute(query).one()
    kinds_q = sa.select(L.c.kind).select_from(_joined()).where(*where).distinct()
    kinds = sorted({"invoice" if k == "salesorder" else k for (k,) in conn.execute(kinds_q)})
    return {"count": int(n), "start_date": f.date_from or first, "end_date": f.date_to or last, "kinds": kinds}

