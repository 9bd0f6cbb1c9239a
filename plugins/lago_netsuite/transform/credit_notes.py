"""Lago credit notes -> NetSuite ``creditmemo`` frames.

A line per credited item (quantity 1, rate = amount, on the item of the credited fee), the coupon
adjustment as a negative line, tax from the credit note's own applied taxes (reconciled to the
cent per tax code), and an ``apply`` line to the credited invoice for the part Lago offset
against it (``offset_amount_cents``). The reference to that invoice is optional: if the invoice
never reaches NetSuite the loader drops the apply line and the memo stays as customer credit.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from lago_netsuite.money import exponents
from lago_netsuite.transform import credit_applications, resolve, taxes
from lago_netsuite.transform import documents as docs
from lago_netsuite.transform.frames import LagoFrames, column_problems, ints, of_type, strings
from lago_netsuite.transform.frames import sum_by as _sum_by
from lago_netsuite.transform.invoices import _ints, check_totals, finish, legacy_tax
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.model import TransformSettings
from lago_netsuite.transform.numbers import is_decimal_text, ns_date

HEADER_SPEC = {"number": "str", "currency": "currency", "issuing_date": "date", "billing_entity_code": "str",
               "lago_invoice_id": "str?", "total_amount_cents": "int", "taxes_amount_cents": "int",
               "sub_total_excluding_taxes_amount_cents": "int", "coupons_adjustment_amount_cents": "int",
               "credit_amount_cents": "int?", "refund_amount_cents": "int?", "offset_amount_cents": "int?"}
ITEM_SPEC = {"lago_id": "str", "amount_cents": "int", "fee_taxes_rate": "decimal?"}
ITEM_FEE_SPEC = {"item_type": "str", "item_code": "str"}


def _items(fr: LagoFrames, h: pd.DataFrame, names: pd.Series, issues: docs.Issues) -> pd.DataFrame:
    """The credit notes' items with their fee's fields, checked and typed, in a lean frame."""
    raw = fr.cn_items.assign(key="lago-creditnote-" + fr.cn_items["credit_note_id"].astype(str))
    raw = raw[raw["key"].isin(h["key"])]
    where = lambda r: "items[" + r["seq"].astype(str) + "]."  # noqa: E731 - message helper
    issues.reason(column_problems(raw, ITEM_SPEC, names=names, where=where))
    issues.reason(column_problems(raw, ITEM_FEE_SPEC, names=names, where=lambda r: where(r) + "fee."))
    f = raw[["key", "seq", "item_type", "item_code", "item_name", "item_invoice_display_name",
             "item_filter_invoice_display_name", "prop_charges_from_datetime", "prop_charges_to_datetime",
             "prop_from_datetime", "prop_to_datetime", "has_fee_taxes"]].copy()
    f["line_ref"] = strings(raw["lago_id"])
    f["item_type"], f["item_code"] = strings(f["item_type"]), strings(f["item_code"])
    f["from_date"], f["to_date"] = raw["fee_from_date"], raw["fee_to_date"]
    f["units"], f["precise_unit_amount"] = "1", None
    f["amount_minor"] = ints(raw["amount_cents"])
    f["basis_minor"] = f["amount_minor"]
    f["fee_tax_minor"] = 0
    rate = raw["fee_taxes_rate"]
    f["rate_e6"] = taxes.rate_e6(rate.where(is_decimal_text(rate), 0)).clip(lower=0, upper=taxes.MAX_RATE_E6)
    head = h.set_index("key")
    f["billing_entity_code"] = f["key"].map(head["billing_entity_code"])
    f["exponent"] = f["key"].map(head["exponent"]).astype("int64")
    return f.reset_index(drop=True)


def transform_credit_notes(fr: LagoFrames, mappings: Mappings, settings: TransformSettings,
                           synced: Collection[str] = (), applied: Collection[str] = ()) -> docs.KindOutput:
    """Credit notes -> header, item/apply line and tax frames; refunds; voids of voided memos.

    ``synced``: Lago ids of credit notes already in NetSuite; ``applied``: those with credit
    applications booked (a voided one of those cannot simply be voided in NetSuite).
    """
    issues = docs.Issues("creditnote")
    h = fr.credit_notes.drop_duplicates("lago_id", keep="last").copy()
    h["key"] = "lago-creditnote-" + h["lago_id"]
    h["who"] = docs.label("credit note", h["number"], h["lago_id"])
    names = h.set_index("key")["who"]
    ident = h[["key", "lago_id", "number"]].assign(external_id=h["key"])
    issues.reason(column_problems(h, HEADER_SPEC, names=names))
    issues.check(~h["items_ok"].astype(bool), h, lambda r: r["who"] + ": items is missing or not a list of objects")
    issues.check(~h["taxes_ok"].astype(bool), h, lambda r: r["who"] + ": applied_taxes is not a list of objects")
    h = _ints(h, ["total_amount_cents", "taxes_amount_cents", "sub_total_excluding_taxes_amount_cents",
                  "coupons_adjustment_amount_cents", "offset_amount_cents"],
              ("number", "currency", "billing_entity_code", "lago_invoice_id", "issuing_date", "customer_lago_id"))
    h["exponent"] = h["currency"].map(exponents(list(h["currency"].dropna().unique()))).fillna(2).astype("int64")
    h, voids = _voided(h, set(synced), set(applied), issues)
    items = _items(fr, h, names, issues)
    cn_taxes = fr.cn_taxes.assign(key="lago-creditnote-" + fr.cn_taxes["credit_note_id"].astype(str))
    cn_taxes = cn_taxes[cn_taxes["key"].isin(h["key"])]
    _arithmetic(h, items, cn_taxes, issues)
    h["currency_id"] = resolve.resolve_currency(h, mappings)
    issues.check(h["currency_id"].isna(), h, lambda r: r["who"] + ": currency " + r["currency"].astype(str)
                 + " has no NetSuite currency mapping")
    h["subsidiary"] = resolve.resolve_subsidiary(h["billing_entity_code"], mappings)
    issues.check(h["subsidiary"].isna(), h, lambda r: r["who"] + ": billing entity "
                 + r["billing_entity_code"].astype(str).map(repr) + " has no NetSuite subsidiary mapping")
    h["entity_id"] = h["customer_ns_id"]
    h["entity_ref"] = ("lago-customer-" + h["customer_lago_id"].astype(str)).where(h["customer_ns_id"].isna(), None)
    issues.check(h["customer_ns_id"].isna() & (~of_type(h["customer_lago_id"], str)), h,
                 lambda r: r["who"] + ": customer.lago_id is missing, so its NetSuite customer cannot be found")
    h["trandate"] = ns_date(h["issuing_date"])
    any_pos = (items["amount_minor"] > 0).groupby(items["key"]).transform("any")
    items = items[(items["amount_minor"] > 0) | ~any_pos]
    prefix = "credit note item "
    lines, why = docs.fee_lines(items, names, per_unit=False, prefix=prefix)
    issues.reason(why)
    lines, reasons, warns = docs.attach_items(lines, mappings, names, prefix)
    issues.reason(reasons)
    issues.warn(warns)
    disc, reasons, warns = docs.discount_lines(h, [
        ("coupon_adjustment", "coupon_line_minor", "coupon",
         pd.Series("Coupon adjustment", index=h.index), "coupons")], mappings, names)
    issues.reason(reasons)
    issues.warn(warns)
    h["tax_total_minor"] = h["taxes_amount_cents"]
    if settings.tax_mode == "suitetax":
        tax_rows = _suitetax(h, lines, disc, cn_taxes, fr, mappings, issues, names)
    else:
        tax_rows, h = legacy_tax(h, cn_taxes, mappings, issues)
    item_lines = pd.concat([lines, disc], ignore_index=True)
    check_totals(h, item_lines, tax_rows, settings.tax_mode, issues)
    apply = _apply_lines(h, settings, issues)
    out = finish("creditnote", issues, ident, h, pd.concat([item_lines, apply], ignore_index=True), tax_rows,
                 voids, keep_cols=["doc", "apply"])
    out.extra_records, skipped = credit_applications.refund_records(out.headers, settings, mappings.refund_accounts)
    if len(skipped):
        out.skipped = pd.concat([out.skipped, skipped], ignore_index=True)
    return out


def _voided(h: pd.DataFrame, synced: set[str], applied: set[str],
            issues: docs.Issues) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Voided credit notes: void the memo when nothing of it was used, else flag it with the amounts.

    Lago voids the credit part of a credit note (what was not yet consumed). NetSuite can void a
    credit memo only while nothing is applied from it: so the memo is voided (or, never synced,
    not created) when nothing was offset, refunded or consumed; otherwise it is kept and flagged for
    the accountant, naming what was used and what is left to reverse by hand.
    """
    voided = h["credit_status"] == "voided"
    refund = ints(h["refund_amount_cents"]).where(of_type(h["refund_amount_cents"], int), 0)
    used = (h["offset_amount_cents"] > 0) | (refund > 0) | h["lago_id"].isin(applied)
    clean = voided & ~used
    issues.skip(clean & ~h["lago_id"].isin(synced), h["key"],
                "voided credit note that was never synced and of which nothing was used: nothing to book")
    voids = h.loc[clean & h["lago_id"].isin(synced), ["key", "lago_id", "number"]].rename(
        columns={"key": "external_id"}).assign(kind="creditnote", record_type="creditmemo")
    flag = h[voided & used]
    issues.warn(pd.DataFrame({"key": flag["key"], "message": "ACCOUNTANT: " + flag["who"]
                              + " was voided in Lago but part of it was already used (total "
                              + flag["total_amount_cents"].astype(str) + ", offset "
                              + flag["offset_amount_cents"].astype(str) + ", refund " + refund[flag.index].astype(str)
                              + ", credit " + flag["credit_amount_cents"].astype(str)
                              + flag["lago_id"].isin(applied).map({True: ", some consumed by later invoices",
                                                                   False: ""})
                              + " minor units): NetSuite cannot void the memo; reverse its unapplied remainder "
                              "by hand"}))
    return h[~clean].copy(), voids.reset_index(drop=True)


def _arithmetic(h: pd.DataFrame, items: pd.DataFrame, cn_taxes: pd.DataFrame, issues: docs.Issues) -> None:
    """Hold back credit notes whose totals do not add up in Lago's own arithmetic."""
    k = h["key"]
    a = h.assign(_items=_sum_by(k, items["key"], items["amount_minor"]),
                 _tax=_sum_by(k, cn_taxes["key"], ints(cn_taxes["amount_cents"])))
    s = lambda r, c: r[c].astype(str)  # noqa: E731 - message helper
    sub = a["sub_total_excluding_taxes_amount_cents"]
    # Lago rounds items - precise coupon adjustment as a whole, and the adjustment on its own: the
    # two can differ by one unit. The coupon line carries what Lago's own sub total implies.
    h["coupon_line_minor"] = (a["_items"] - sub).to_numpy()
    issues.check((a["_items"] - sub - a["coupons_adjustment_amount_cents"]).abs() > 1, a, lambda r: r["who"]
                 + ": sub_total_excluding_taxes_amount_cents " + s(r, "sub_total_excluding_taxes_amount_cents")
                 + " != items " + s(r, "_items") + " - coupons adjustment " + s(r, "coupons_adjustment_amount_cents"))
    issues.check(a["_items"] - sub < 0, a, lambda r: r["who"] + ": items " + s(r, "_items")
                 + " are less than sub_total_excluding_taxes_amount_cents "
                 + s(r, "sub_total_excluding_taxes_amount_cents"))
    issues.check(a["total_amount_cents"] != sub + a["taxes_amount_cents"], a, lambda r: r["who"]
                 + ": total_amount_cents " + s(r, "total_amount_cents") + " != sub total + taxes "
                 + s(r, "taxes_amount_cents"))
    n_taxes = _sum_by(k, cn_taxes["key"], pd.Series(1, index=cn_taxes.index))
    issues.check((a["taxes_amount_cents"] - a["_tax"]).abs() > n_taxes // 2, a, lambda r: r["who"]
                 + ": taxes_amount_cents " + s(r, "taxes_amount_cents") + " differs from the sum of its applied_taxes "
                 + s(r, "_tax") + " by more than rounding")
    for col in ["total_amount_cents", "coupons_adjustment_amount_cents", "offset_amount_cents"]:
        def negative(r: pd.DataFrame, c: str = col) -> pd.Series:
            return r["who"] + ": " + c + " is negative"

        issues.check(a[col] < 0, a, negative)
    issues.check(a["offset_amount_cents"] > a["total_amount_cents"], a, lambda r: r["who"]
                 + ": offset_amount_cents exceeds the credit note's total")


def _suitetax(h: pd.DataFrame, lines: pd.DataFrame, disc: pd.DataFrame, cn_taxes: pd.DataFrame, fr: LagoFrames,
              mappings: Mappings, issues: docs.Issues, names: pd.Series) -> pd.DataFrame:
    """taxdetails rows of credit memos: each code's amount spread over its items, exact per code."""
    k = h["key"]
    src = pd.concat([lines, disc], ignore_index=True)
    fee = src["line_kind"] == "fee"
    src["rate_e6"] = src["rate_e6"].where(fee, 0).fillna(0).astype("int64")
    src["fee_tax_minor"] = 0
    src["basis_minor"] = src["amount_minor"].where(fee, 0).astype("int64")
    src["has_fee_taxes"] = src["has_fee_taxes"].astype("boolean").fillna(False).astype(bool)
    src["line_ref"] = src["line_ref"].where(src["line_ref"].notna(), src["taxdetailsreference"])
    targets = cn_taxes.assign(rate_e6=taxes.rate_e6(cn_taxes["tax_rate"]), base=ints(cn_taxes["base_amount_cents"]),
                              target=ints(cn_taxes["amount_cents"]), who=cn_taxes["key"].map(h.set_index("key")["who"]))
    it = fr.cn_item_taxes.assign(key="lago-creditnote-" + fr.cn_item_taxes["credit_note_id"].astype(str))
    it = it[it["key"].isin(k)]
    explicit = pd.DataFrame({"key": it["key"], "line_ref": it["item_id"], "tax_code": it["tax_code"],
                             "rate_e6_given": taxes.rate_e6(it["tax_rate"]), "amount_minor": 0})
    rows, reasons = taxes.suitetax_rows(src, targets, explicit, h.set_index("key")["taxes_amount_cents"],
                                       estimate="allocate", mappings=mappings, names=names,
                                       prefix="credit note item ")
    issues.reason(reasons)
    default = resolve.resolve_taxes(h[["billing_entity_code"]].assign(lago_tax_code=""), mappings, "suitetax")
    nexus, reasons = taxes.document_nexus(rows, default["nexus"].set_axis(k), names)
    h["nexus"] = nexus.to_numpy()
    issues.reason(reasons)
    return rows


def _apply_lines(h: pd.DataFrame, settings: TransformSettings, issues: docs.Issues) -> pd.DataFrame:
    """An apply line to the credited invoice for the amount Lago offset against it."""
    offset = h["offset_amount_cents"]
    inv = h["lago_invoice_id"].where(of_type(h["lago_invoice_id"], str), None)
    issues.check((offset > 0) & inv.isna(), h, lambda r: r["who"] + ": offsets "
                 + r["offset_amount_cents"].astype(str) + " against an invoice but lago_invoice_id is missing")
    take = (offset > 0) & inv.notna()
    ref = ("lago-invoice-" + inv.astype(str)).where(take, None)
    if settings.invoice_record_type == "salesorder":
        issues.warn(pd.DataFrame({"key": h.loc[take, "key"], "message": h.loc[take, "who"]
                                  + ": invoices are synced as sales orders; the apply line to " + ref[take]
                                  + " is dropped unless that invoice reaches NetSuite"}))
    h["depends_on"] = [[r for r in (e, i) if isinstance(r, str)]
                       for e, i in zip(h["entity_ref"].tolist(), ref.tolist(), strict=True)]
    return pd.DataFrame({"key": h.loc[take, "key"], "sublist": "apply", "line_no": 0, "line_kind": "apply",
                         "doc": [{"$ref": r, "optional": True} for r in ref[take].tolist()], "apply": True,
                         "amount_minor": offset[take].astype("int64"), "quantity": None, "rate": None})
