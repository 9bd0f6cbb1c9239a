"""Set the mapping file's extra NetSuite fields on built records (a generic step by record type).

It runs on the contract bodies every builder produced — header ``columns`` and the lines of the
``item`` sublist — so a record type added later gets its mapped fields without a change in its
builder. Values are read from the Lago document (or, on lines, from the fee the line was made of,
found through ``custcol_lago_line_id``), one pass per path, then checked, looked up and defaulted
column-wise. A value that cannot be resolved holds the document back with a reason naming the
field, the path and the value; the other documents go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lago_netsuite.transform.field_specs import DOCUMENT_PREFIX, LINE_SUBLIST, FieldSpec
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.numbers import ns_date

REASON_COLUMNS = ["external_id", "kind", "lago_id", "number", "reason"]
KIND_LABELS = {"creditnote": "credit note", "payment": "payment", "customer": "customer"}
_ABSENT = object()


def no_reasons() -> pd.DataFrame:
    """An empty reasons frame."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REASON_COLUMNS})


def read_path(obj: Any, parts: Sequence[str]) -> Any:
    """The value at ``parts`` in a JSON document; ``metadata``-style ``[{key, value}]`` lists are
    read by key. ``_ABSENT`` when any step is missing (never raises: the document is untrusted)."""
    cur = obj
    for part in parts:
        if type(cur) is dict:
            cur = cur.get(part, _ABSENT)
        elif type(cur) is list:
            hit = [e.get("value", _ABSENT) for e in cur if type(e) is dict and e.get("key") == part]
            cur = hit[-1] if hit else _ABSENT
        else:
            return _ABSENT
        if cur is None or cur is _ABSENT:
            return _ABSENT
    return cur


def _scalar(value: Any) -> Any:
    """A value as NetSuite text; a list of scalars (charge filter values) joined with commas;
    ``_ABSENT`` for nothing, ``None`` for what is not a single value (an object)."""
    if value is _ABSENT or (type(value) is str and not value.strip()):
        return _ABSENT
    if type(value) is str:
        return value
    if type(value) in (int, float, bool):
        return str(value).lower() if type(value) is bool else str(value)
    if type(value) is list and value and all(type(v) in (str, int, float) for v in value):
        return ",".join(str(v) for v in value)
    return None


Where = Callable[[np.ndarray], list[str]]


def resolve(spec: FieldSpec, sources: list[Any], where: Where) -> tuple[list[Any], list[tuple[int, str]]]:
    """Values of ``spec`` for each source (``_ABSENT``: leave the field out) and the problems.

    ``where(positions)`` names those rows in messages ("invoice INV-1", "invoice INV-1 line 2");
    it is called for bad rows only. Returns ``(values, [(position, reason), ...])``.
    """
    n = len(sources)
    if spec.constant is not None:
        return [spec.constant] * n, []
    assert spec.source is not None
    parts = spec.source.removeprefix(DOCUMENT_PREFIX).split(".")
    raw = pd.Series([_scalar(read_path(s, parts)) if s is not _ABSENT else _ABSENT for s in sources], dtype=object)
    absent = np.fromiter((v is _ABSENT for v in raw.tolist()), dtype=bool, count=n)
    not_single = raw.isna().to_numpy() & ~absent
    value = raw.where(~absent & ~not_single, None)
    head = f": field {spec.field_id} from {spec.source}"
    problems: list[tuple[int, str]] = []

    def report(mask: np.ndarray, text: Callable[[Any], str]) -> None:
        pos = np.flatnonzero(mask)
        if len(pos):
            shown = value.to_numpy()[pos].tolist()
            problems.extend((int(p), f"{name}{head}{text(v)}")
                            for p, name, v in zip(pos.tolist(), where(pos), shown, strict=True))

    report(not_single, lambda _: " holds an object, not a single value")
    lookup = spec.lookup_map
    if lookup is not None:
        mapped = value.map(lookup)
        miss = (mapped.isna() & value.notna()).to_numpy()
        if spec.default is None:
            report(miss, lambda v: f": value {v!r:.60} is not in its lookup and there is no default")
        value = mapped.where(~miss, spec.default)
    if spec.default is not None:
        value = value.where(~absent, spec.default)
    elif not spec.optional:
        report(absent, lambda _: " has no value in the Lago document (add a default, or optional: true)")
    if spec.type == "date" and value.notna().any():
        dated = ns_date(value)
        report((dated.isna() & value.notna()).to_numpy(), lambda v: f": value {v!r:.60} is not an ISO date")
        value = dated
    return value.astype(object).where(value.notna(), _ABSENT).tolist(), problems


def _fee_sources(doc: Any) -> dict[str, Any]:
    """Lago line id -> the fee a line was made of (invoice fees; a credit note item's fee)."""
    out: dict[str, Any] = {}
    if type(doc) is not dict:
        return out
    for fee in doc.get("fees") or []:
        if type(fee) is dict and type(fee.get("lago_id")) is str:
            out[fee["lago_id"]] = fee
    for item in doc.get("items") or []:
        if type(item) is dict and type(item.get("lago_id")) is str:
            fee = item.get("fee")
            out[item["lago_id"]] = fee if type(fee) is dict else item
    return out


def apply_fields(records: pd.DataFrame, docs: Sequence[Any], mappings: Mappings,
                 entities: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set the mapped fields on the bodies of ``records`` (create actions) made from ``docs``.

    ``entities`` maps a record's ``lago_id`` to its billing entity code when the document does
    not carry it (payments). Returns ``(records kept, reasons)``: records of documents with a
    field that cannot be resolved are removed and one reason row per problem is returned.
    """
    if not mappings.has_fields or records is None or records.empty:
        return records, no_reasons()
    by_id = {d["lago_id"]: d for d in docs if type(d) is dict and type(d.get("lago_id")) is str}
    creates = records[(records["action"] == "create") & records["body"].map(lambda b: type(b) is dict)]
    if creates.empty:
        return records, no_reasons()
    lago_ids = creates["lago_id"]
    entity = lago_ids.map(lambda i: read_path(by_id.get(i), ["billing_entity_code"]))
    entity = entity.where(entity.map(lambda v: type(v) is str), None)
    if entities is not None and len(entities):
        known = entities[~entities.index.duplicated(keep="last")].to_dict()
        entity = entity.where(entity.notna(), lago_ids.map(known))
    names = dict(zip(creates.index.tolist(), [
        f"{KIND_LABELS.get(k, k)} {num if type(num) is str else lago_id}"
        for k, num, lago_id in zip(creates["kind"].tolist(), creates["number"].tolist(), lago_ids.tolist(),
                                   strict=True)], strict=True))
    frame = pd.DataFrame({"record_type": creates["record_type"], "entity": entity.fillna("")}, index=creates.index)
    problems: list[tuple[Any, str]] = []
    for (record_type, code), group in frame.groupby(["record_type", "entity"], sort=False):
        specs = mappings.record_fields(str(record_type), str(code) or None)
        if not specs.header and not specs.lines:
            continue
        rows = creates.loc[group.index]
        problems += _header(rows, specs.header, by_id, names)
        problems += _lines(rows, specs.lines, by_id, names)
    if not problems:
        return records, no_reasons()
    reasons = pd.DataFrame(problems, columns=["row", "reason"], dtype=object)
    bad = records.loc[reasons["row"].unique()]
    out = records.loc[reasons["row"]][["external_id", "kind", "lago_id", "number"]].reset_index(drop=True)
    out["reason"] = reasons["reason"].to_numpy()
    kept = records.drop(index=bad.index)
    return kept, out[REASON_COLUMNS].drop_duplicates().astype(object)


def _header(rows: pd.DataFrame, specs: dict[str, FieldSpec], by_id: dict[str, Any],
            names: dict[Any, str]) -> list[tuple[Any, str]]:
    if not specs:
        return []
    sources = [by_id.get(i, _ABSENT) for i in rows["lago_id"].tolist()]
    index = rows.index.tolist()
    problems: list[tuple[Any, str]] = []
    columns = [body.setdefault("columns", {}) for body in rows["body"].tolist()]
    for fid, spec in specs.items():
        values, issues = resolve(spec, sources, lambda pos: [names[index[p]] for p in pos.tolist()])
        for cols, v in zip(columns, values, strict=True):
            if v is not _ABSENT:
                cols[fid] = v
        problems += [(index[p], text) for p, text in issues]
    return problems


def _lines(rows: pd.DataFrame, specs: dict[str, FieldSpec], by_id: dict[str, Any],
           names: dict[Any, str]) -> list[tuple[Any, str]]:
    if not specs:
        return []
    owner, line_dicts, fee_srcs, doc_srcs, places = [], [], [], [], []
    for row, lago_id, body in zip(rows.index.tolist(), rows["lago_id"].tolist(), rows["body"].tolist(), strict=True):
        doc = by_id.get(lago_id, _ABSENT)
        fees = _fee_sources(doc)
        for group in body.get("lines") or []:
            if type(group) is not dict or group.get("sublistId") != LINE_SUBLIST:
                continue
            for n, line in enumerate(group.get("lineItems") or []):
                line_id = line.get("custcol_lago_line_id")
                owner.append(row)
                line_dicts.append(line)
                fee_srcs.append(fees.get(line_id, _ABSENT) if isinstance(line_id, str) else _ABSENT)
                doc_srcs.append(doc)
                places.append((n, line_id))
    if not line_dicts:
        return []

    def where(pos: np.ndarray) -> list[str]:
        out = []
        for p in pos.tolist():
            n, line_id = places[p]
            out.append(f"{names[owner[p]]} line {n + 1}" + (f" (Lago line {line_id})" if line_id else ""))
        return out

    no_fee = np.fromiter((s is _ABSENT for s in fee_srcs), dtype=bool, count=len(fee_srcs))
    problems: list[tuple[Any, str]] = []
    for fid, spec in specs.items():
        on_doc = spec.source is not None and spec.source.startswith(DOCUMENT_PREFIX)
        values, issues = resolve(spec, doc_srcs if on_doc else fee_srcs, where)
        if not on_doc and spec.source is not None and no_fee.any():
            # a line not made of a fee (discount, grouped usage) has no fee value: default or left out
            issues = [(p, text) for p, text in issues if not no_fee[p]]
            fill = spec.default if spec.default is not None else _ABSENT
            values = [fill if skip else v for v, skip in zip(values, no_fee.tolist(), strict=True)]
        for line, v in zip(line_dicts, values, strict=True):
            if v is not _ABSENT:
                line[fid] = v
        problems += [(owner[p], text) for p, text in issues]
    return problems
