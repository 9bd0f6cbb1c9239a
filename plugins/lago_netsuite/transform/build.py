"""Contract JSON (``restlet-contract.md``) from the header, line and tax frames.

This is the edge where frames become dicts: column values are prepared vectorised (JSON numbers
via ``money.json_number`` once per distinct value), then rows are zipped into dicts, grouped by
document with array slicing, and wrapped in the record envelope. Optional fields that are null
are left out of the body rather than sent as null.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from lago_netsuite.transform.documents import KindOutput
from lago_netsuite.transform.model import RECORD_COLUMNS, TransformSettings
from lago_netsuite.transform.numbers import json_amounts, json_decimals

ITEM_FIELDS = [("item", "item"), ("account", "account"), ("quantity", "quantity_json"), ("rate", "rate_json"),
               ("amount", "amount_json"), ("description", "description"),
               ("taxdetailsreference", "taxdetailsreference"), ("custcol_lago_line_id", "lago_line_id"),
               ("custcol_service_period_date_from", "period_from"), ("custcol_service_period_date_to", "period_to")]
APPLY_FIELDS = [("doc", "doc"), ("apply", "apply"), ("amount", "amount_json")]
TAX_FIELDS = [("taxdetailsreference", "taxdetailsreference"), ("taxtype", "taxtype"), ("taxcode", "taxcode"),
              ("taxbasis", "basis_json"), ("taxrate", "rate_json"), ("taxamount", "amount_json")]


OPTIONAL = frozenset({"account", "description", "custcol_lago_line_id", "custcol_service_period_date_from",
                      "custcol_service_period_date_to", "duedate", "custbody_lago_invoice_link", "email", "altemail",
                      "phone", "companyname", "firstname", "lastname", "currency", "nexus", "memo"})


def rows_to_dicts(df: pd.DataFrame, fields: list[tuple[str, str]],
                  optional: frozenset[str] = OPTIONAL) -> list[dict[str, Any]]:
    """One dict per row with the given ``(json key, column)`` pairs; null optional values left out.

    Rows are partitioned by which optional fields are present, so each partition is one zip over
    column lists (required fields are always written; the gate checks they are not null).
    """
    n = len(df)
    if n == 0:
        return []
    fields = [(k, c) for k, c in fields if c in df.columns]
    arrays = [df[c].to_numpy(dtype=object) for _, c in fields]
    opt = [j for j, (k, _) in enumerate(fields) if k in optional]
    pattern = np.zeros(n, dtype=np.int64)
    for bit, j in enumerate(opt):
        pattern |= pd.notna(arrays[j]).astype(np.int64) << bit
    out: list[dict[str, Any]] = [{}] * n
    for p in np.unique(pattern):
        absent = {opt[bit] for bit in range(len(opt)) if not (int(p) >> bit) & 1}
        keep = [j for j in range(len(fields)) if j not in absent]
        keys = [fields[j][0] for j in keep]
        if len(np.unique(pattern)) == 1:
            return _dicts(keys, [arrays[j].tolist() for j in keep])
        idx = np.flatnonzero(pattern == p)
        for i, d in zip(idx.tolist(), _dicts(keys, [arrays[j][idx].tolist() for j in keep]), strict=True):
            out[i] = d
    return out


def _dicts(keys: list[str], cols: list[list[Any]]) -> list[dict[str, Any]]:
    """Dicts from column lists (the fastest pure-Python form: no per-row bytecode)."""
    return list(map(dict, map(zip, repeat(keys), zip(*cols, strict=True))))


def group_slices(keys: pd.Series, values: list[Any]) -> dict[Any, list[Any]]:
    """``{key: values of that key}`` for values aligned to ``keys`` sorted so equal keys are adjacent."""
    arr = keys.to_numpy(dtype=object)
    if len(arr) == 0:
        return {}
    cut = np.flatnonzero(arr[1:] != arr[:-1]) + 1
    starts = np.r_[0, cut]
    ends = np.r_[cut, len(arr)]
    return {arr[s]: values[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)}


def add_json_numbers(lines: pd.DataFrame, taxes: pd.DataFrame) -> None:
    """Add the JSON numbers of amounts, rates and quantities (the gate checks them against minor)."""
    def obj(values: list[Any], frame: pd.DataFrame) -> pd.Series:
        # object dtype: a numeric list would become float64 and turn 443 into 443.0
        return pd.Series(values, index=frame.index, dtype=object)

    if len(lines):
        exp_l = lines["exponent"]
        lines["amount_json"] = obj(json_amounts(lines["amount_minor"], exp_l), lines)
        lines["quantity_json"] = obj(json_decimals(lines["quantity"]), lines)
        lines["rate_json"] = obj(json_decimals(lines["rate"]), lines)
    if len(taxes):
        exp_t = taxes["exponent"]
        taxes["amount_json"] = obj(json_amounts(taxes["amount_minor"], exp_t), taxes)
        taxes["basis_json"] = obj(json_amounts(taxes["basis_minor"], exp_t), taxes)
        taxes["rate_json"] = obj(json_decimals(taxes["rate"]), taxes)


def _entity(h: pd.DataFrame, literal: str) -> list[Any]:
    """The customer reference per row: the NetSuite id when known, else a ``$ref`` to our record."""
    return [{"$ref": ref} if isinstance(ref, str) else lit
            for ref, lit in zip(h["entity_ref"].tolist(), h[literal].tolist(), strict=True)]


def transaction_records(out: KindOutput, *, kind: str, record_type: str, settings: TransformSettings,
                        header_fields: list[tuple[str, str]], constants: dict[str, Any],
                        total_col: str) -> pd.DataFrame:
    """Records of one transaction kind (invoice, salesorder, creditnote, payment)."""
    h = out.headers  # the JSON columns added here stay on the frame: the gate checks them
    if h.empty:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    lines, taxes = out.lines, out.taxes
    add_json_numbers(lines, taxes)
    suitetax = settings.tax_mode == "suitetax" and kind != "payment"
    if "tax_total_minor" in h and not suitetax:
        h["tax_total_json"] = pd.Series(json_amounts(h["tax_total_minor"], h["exponent"]), index=h.index, dtype=object)
    if "payment_minor" in h:
        h["payment_json"] = pd.Series(json_amounts(h["payment_minor"], h["exponent"]), index=h.index, dtype=object)
    h["entity_value"] = pd.Series(_entity(h, "entity_id"), index=h.index, dtype=object)
    columns = rows_to_dicts(h, header_fields)
    item_fields = ITEM_FIELDS if suitetax else [f for f in ITEM_FIELDS if f[0] != "taxdetailsreference"]
    items = lines[lines["sublist"] == "item"]
    applies = lines[lines["sublist"] == "apply"]
    item_map = group_slices(items["external_id"], rows_to_dicts(items, item_fields))
    apply_map = group_slices(applies["external_id"], rows_to_dicts(applies, APPLY_FIELDS))
    tax_map = group_slices(taxes["external_id"], rows_to_dicts(taxes, TAX_FIELDS)) if suitetax else {}
    options = {"ignoreMandatoryFields": settings.ignore_mandatory_fields}
    bodies = []
    for eid, cols in zip(h["external_id"].tolist(), columns, strict=True):
        cols.update(constants)
        sublists = []
        if eid in item_map:
            sublists.append({"sublistId": "item", "lineItems": item_map[eid]})
        if eid in apply_map:
            sublists.append({"sublistId": "apply", "lineItems": apply_map[eid]})
        body: dict[str, Any] = {"externalId": eid, "action": "create", "type": record_type,
                                "isDynamic": settings.is_dynamic, "columns": cols, "lines": sublists}
        if suitetax:
            body["taxdetails"] = [{"sublistId": "taxdetails", "lineItems": tax_map.get(eid, [])}]
        body["options"] = dict(options)
        bodies.append(body)
    deps = h["depends_on"].tolist() if "depends_on" in h else [[] for _ in range(len(h))]
    return pd.DataFrame({
        "external_id": h["external_id"], "kind": kind, "record_type": record_type, "action": "create",
        "lago_id": h["lago_id"], "number": h["number"], "currency": h["currency"],
        "exponent": h["exponent"].astype("Int64"), "total_minor": h[total_col].astype("Int64"),
        "body": bodies, "depends_on": deps,
    })


def void_records(voids: pd.DataFrame) -> pd.DataFrame:
    """``{externalId, action: "void", type}`` records for voided invoices already in NetSuite."""
    if voids.empty:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    bodies = [{"externalId": e, "action": "void", "type": t}
              for e, t in zip(voids["external_id"].tolist(), voids["record_type"].tolist(), strict=True)]
    return pd.DataFrame({
        "external_id": voids["external_id"], "kind": voids["kind"], "record_type": voids["record_type"],
        "action": "void", "lago_id": voids["lago_id"], "number": voids["number"], "currency": None,
        "exponent": pd.array([None] * len(voids), dtype="Int64"),
        "total_minor": pd.array([None] * len(voids), dtype="Int64"), "body": bodies,
        "depends_on": [[] for _ in range(len(voids))],
    })


def customer_records(out: KindOutput, settings: TransformSettings) -> pd.DataFrame:
    """``customer`` records from the customers' header frame."""
    h = out.headers
    if h.empty:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    fields = [("entityid", "entityid"), ("companyname", "companyname"), ("firstname", "firstname"),
              ("lastname", "lastname"), ("isperson", "isperson"), ("email", "email"), ("altemail", "altemail"),
              ("phone", "phone"),
              ("subsidiary", "subsidiary"), ("currency", "currency_id"), ("custentity_lago_id", "lago_id")]
    columns = rows_to_dicts(h, fields)
    options = {"ignoreMandatoryFields": settings.ignore_mandatory_fields}
    bodies = [{"externalId": e, "action": "create", "type": "customer", "isDynamic": settings.is_dynamic,
               "columns": c, "lines": [], "options": dict(options)}
              for e, c in zip(h["external_id"].tolist(), columns, strict=True)]
    return pd.DataFrame({
        "external_id": h["external_id"], "kind": "customer", "record_type": "customer", "action": "create",
        "lago_id": h["lago_id"], "number": h["entityid"], "currency": h["currency"],
        "exponent": pd.array([None] * len(h), dtype="Int64"),
        "total_minor": pd.array([None] * len(h), dtype="Int64"), "body": bodies,
        "depends_on": [[] for _ in range(len(h))],
    })
