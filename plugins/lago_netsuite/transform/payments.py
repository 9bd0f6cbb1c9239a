"""Lago payments -> NetSuite ``customerpayment`` frames, applied to the paid invoice.

Only succeeded payments are sent (Lago's own integration pushed pending ones and had to undo
them). A payment that covers several invoices (a Lago payment request) is held back: Lago does not
say how its amount splits between the invoices, and guessing would misstate each invoice's balance.
"""

from __future__ import annotations

import pandas as pd

from lago_netsuite.money import exponents
from lago_netsuite.transform import documents as docs
from lago_netsuite.transform import resolve
from lago_netsuite.transform.frames import LagoFrames, column_problems, ints, of_type, strings
from lago_netsuite.transform.invoices import finish
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.model import TransformSettings
from lago_netsuite.transform.numbers import ns_date

SPEC = {"amount_cents": "int", "amount_currency": "currency", "created_at": "date", "invoice_ids": "list",
        "lago_customer_id": "str?", "reference": "str?"}


def transform_payments(fr: LagoFrames, mappings: Mappings, settings: TransformSettings) -> docs.KindOutput:
    """Succeeded single-invoice payments -> header and apply-line frames."""
    issues = docs.Issues("payment")
    p = fr.payments.drop_duplicates("lago_id", keep="last").copy()
    p["key"] = "lago-payment-" + p["lago_id"]
    p["number"] = p["reference"].where(of_type(p["reference"], str), None)
    p["who"] = "payment " + p["lago_id"].astype(str)
    ident = p[["key", "lago_id", "number"]].assign(external_id=p["key"])
    status = p["payment_status"]
    issues.skip(status != "succeeded", p["key"], "payment status " + status.astype(str).map(repr)
                + " is not succeeded: only settled payments are sent")
    p = p[status == "succeeded"].copy()
    k, who = p["key"], p["who"]
    issues.reason(column_problems(p, SPEC, names=p.set_index("key")["who"]))
    for col in ("amount_currency", "lago_customer_id", "reference", "created_at"):
        p[col] = strings(p[col])
    ids = p["invoice_ids"].where(of_type(p["invoice_ids"], list), None)
    n = ids.map(len, na_action="ignore").fillna(0).astype("int64")
    issues.where(ids.notna() & (n == 0), k, who + ": invoice_ids is empty; NetSuite applies a payment to an invoice")
    issues.where(n > 1, k, who + ": covers " + n.astype(str) + " invoices (" + ids.map(
        lambda v: ", ".join(map(str, v)), na_action="ignore").fillna("") + "); Lago does not say how the amount "
                 "splits between them, so it is held back for manual application")
    p["invoice_id"] = ids.map(lambda v: v[0] if len(v) == 1 and isinstance(v[0], str) else None, na_action="ignore")
    issues.where((n == 1) & p["invoice_id"].isna(), k, who + ": invoice_ids[0] is not a Lago invoice id")
    amount = ints(p["amount_cents"])
    zero = (amount == 0) & (of_type(p["amount_cents"], int))
    issues.skip(zero, k, "zero payment: nothing to apply")
    issues.where(amount < 0, k, who + ": amount_cents " + amount.astype(str) + " is negative")
    p["payment_minor"] = amount
    p["total_minor"] = amount
    p["currency"] = p["amount_currency"]
    p["exponent"] = p["currency"].map(exponents(list(p["currency"].dropna().unique()))).fillna(2).astype("int64")
    # Payments carry no billing entity: the currency mapping is the organization's (or the
    # billing entity of the paid invoice when it is in this batch).
    inv_entity = fr.invoices.drop_duplicates("lago_id", keep="last").set_index("lago_id")["billing_entity_code"]
    p["billing_entity_code"] = p["invoice_id"].map(inv_entity)
    p["currency_id"] = resolve.resolve_currency(p, mappings)
    issues.where(p["currency_id"].isna(), k, who + ": currency " + p["currency"].astype(str)
                 + " has no NetSuite currency mapping")
    links = fr.customer_links.set_index("customer_lago_id")["ns_id"]
    p["entity_id"] = p["lago_customer_id"].map(links)
    p["entity_ref"] = ("lago-customer-" + p["lago_customer_id"].astype(str)).where(p["entity_id"].isna(), None)
    issues.where(p["entity_id"].isna() & (~of_type(p["lago_customer_id"], str)), k,
                 who + ": lago_customer_id is missing, so its NetSuite customer cannot be found")
    p["trandate"] = ns_date(p["created_at"])
    p["memo"] = "Lago payment " + p["reference"].where(of_type(p["reference"], str), p["lago_id"]).astype(str)
    inv_kind = "invoice"
    p["invoice_ref"] = ("lago-" + inv_kind + "-" + p["invoice_id"].astype(str)).where(p["invoice_id"].notna(), None)
    if settings.invoice_record_type == "salesorder":
        issues.warn(pd.DataFrame({"key": k, "message": who + ": invoices are synced as sales orders; NetSuite "
                                  "applies payments to invoices only, so this payment waits for "
                                  + p["invoice_ref"].astype(str)}))
    p["depends_on"] = [[r for r in (e, i) if isinstance(r, str)]
                       for e, i in zip(p["entity_ref"].tolist(), p["invoice_ref"].tolist(), strict=True)]
    apply = pd.DataFrame({
        "key": k, "sublist": "apply", "line_no": 0, "line_kind": "apply",
        "doc": [{"$ref": r} for r in p["invoice_ref"].tolist()], "apply": True,
        "amount_minor": amount, "quantity": None, "rate": None,
    })
    keep = ~zero
    p, lines = p[keep], apply[keep.to_numpy()]
    return finish("payment", issues, ident, p, lines, _no_taxes(), _no_voids(), keep_cols=["doc", "apply"])


def _no_taxes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ["key", *docs.TAX_COLUMNS[1:]]})


def _no_voids() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ["external_id", "kind", "record_type", "lago_id",
                                                              "number"]})
