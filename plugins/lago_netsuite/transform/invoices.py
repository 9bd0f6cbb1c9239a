"""Lago invoices -> NetSuite invoice (or sales order) header, line and tax frames, and voids.

Lines: one per fee with a positive amount (all fees if none is positive), optionally usage
charges grouped on one line, then discount lines in the order coupons, prepaid (wallet) credits,
progressive-billing credits, credit-note credits. Every document is checked against Lago's own
arithmetic first; whatever cannot be sent exactly is held back with the reason.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from lago_netsuite.money import exponents
from lago_netsuite.transform import credit_applications, resolve, taxes
from lago_netsuite.transform import documents as docs
from lago_netsuite.transform.frames import LagoFrames, column_problems, ints, is_int64, of_type, strings, sum_by
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.model import TransformSettings
from lago_netsuite.transform.numbers import by_unique, is_decimal_text, minor_to_text, ns_date

HEADER_SPEC = {"number": "str", "currency": "currency", "issuing_date": "date", "payment_due_date": "date?",
               "billing_entity_code": "str", "invoice_type": "str?", "web_url": "str?",
               "fees_amount_cents": "int", "coupons_amount_cents": "int",
               "progressive_billing_credit_amount_cents": "int?", "sub_total_excluding_taxes_amount_cents": "int",
               "taxes_amount_cents": "int", "sub_total_including_taxes_amount_cents": "int?",
               "credit_notes_amount_cents": "int", "prepaid_credit_amount_cents": "int", "total_amount_cents": "int"}
# units and precise_unit_amount are checked where they are parsed (fee_lines), with the reason.
FEE_SPEC = {"lago_id": "str", "amount_cents": "int", "taxes_amount_cents": "int", "taxes_rate": "decimal",
            "sub_total_excluding_taxes_amount_cents": "int?", "item_type": "str", "item_code": "str"}
AMOUNTS = [c for c, k in HEADER_SPEC.items() if k.startswith("int") and c != "sub_total_including_taxes_amount_cents"]
GROUP_REF = "usage_charges"


def _ints(df: pd.DataFrame, cols: list[str], text: tuple[str, ...] = ()) -> pd.DataFrame:
    """Cast checked int columns to int64 and text columns to str-or-None (bad values are already
    reported: those documents are held back; this only keeps junk out of the joins)."""
    for c in cols:
        df[c] = ints(df[c])
    for c in text:
        df[c] = strings(df[c])
    return df


def _route(inv: pd.DataFrame, synced: set[str], issues: docs.Issues, kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split invoices by status: finalized go on; voided ones already synced become voids."""
    status = inv["status"]
    key = inv["key"]
    issues.skip(status == "draft", key, "draft invoice: not final in Lago")
    voided = status == "voided"
    was_synced = inv["lago_id"].isin(synced)
    issues.skip(voided & ~was_synced, key, "voided invoice that was never synced to NetSuite: nothing to void")
    other = ~status.isin(["draft", "voided", "finalized"])
    issues.skip(other, key, "invoice status " + status.astype(str).map(repr) + " is not final in Lago")
    voids = inv.loc[voided & was_synced, ["key", "lago_id", "number"]].rename(columns={"key": "external_id"})
    voids = voids.assign(kind=kind, record_type=kind)
    return inv[status == "finalized"].copy(), voids


def _arithmetic(h: pd.DataFrame, inv_taxes: pd.DataFrame, credits: pd.DataFrame, fees: pd.DataFrame,
                issues: docs.Issues) -> None:
    """Hold back invoices whose totals do not add up in Lago's own arithmetic."""
    k = h["key"]
    a = h.assign(
        _fees=sum_by(k, fees["key"], fees["amount_minor"]),
        _sub=h["fees_amount_cents"] - h["progressive_billing_credit_amount_cents"] - h["coupons_amount_cents"],
        _tax=sum_by(k, inv_taxes["key"], ints(inv_taxes["amount_cents"])),
        _total=h["sub_total_excluding_taxes_amount_cents"] + h["taxes_amount_cents"]
        - h["credit_notes_amount_cents"] - h["prepaid_credit_amount_cents"])
    s = lambda r, c: r[c].astype(str)  # noqa: E731 - message helper
    issues.check(a["fees_amount_cents"] != a["_fees"], a, lambda r: r["who"] + ": fees_amount_cents "
                 + s(r, "fees_amount_cents") + " != sum of its fees' amount_cents " + s(r, "_fees"))
    issues.check(a["sub_total_excluding_taxes_amount_cents"] != a["_sub"], a, lambda r: r["who"]
                 + ": sub_total_excluding_taxes_amount_cents " + s(r, "sub_total_excluding_taxes_amount_cents")
                 + " != fees " + s(r, "fees_amount_cents") + " - progressive billing credits "
                 + s(r, "progressive_billing_credit_amount_cents") + " - coupons " + s(r, "coupons_amount_cents"))
    # Lago rounds each applied tax and (separately) their unrounded sum: they may differ by at most
    # one unit per two taxes. More than that is not rounding.
    n_taxes = sum_by(k, inv_taxes["key"], pd.Series(1, index=inv_taxes.index))
    issues.check((a["taxes_amount_cents"] - a["_tax"]).abs() > n_taxes // 2, a, lambda r: r["who"]
                 + ": taxes_amount_cents " + s(r, "taxes_amount_cents") + " differs from the sum of its applied_taxes "
                 + s(r, "_tax") + " by more than rounding")
    incl = a["sub_total_including_taxes_amount_cents"]
    issues.check(incl.notna() & (incl != a["sub_total_excluding_taxes_amount_cents"] + a["taxes_amount_cents"]),
                 a, lambda r: r["who"] + ": sub_total_including_taxes_amount_cents "
                 + s(r, "sub_total_including_taxes_amount_cents") + " != sub total excluding taxes + taxes")
    issues.check(a["total_amount_cents"] != a["_total"], a, lambda r: r["who"] + ": total_amount_cents "
                 + s(r, "total_amount_cents") + " != sub total " + s(r, "sub_total_excluding_taxes_amount_cents")
                 + " + taxes " + s(r, "taxes_amount_cents") + " - credit notes " + s(r, "credit_notes_amount_cents")
                 + " - prepaid credits " + s(r, "prepaid_credit_amount_cents") + " = " + s(r, "_total"))
    for col in ["coupons_amount_cents", "progressive_billing_credit_amount_cents", "credit_notes_amount_cents",
                "prepaid_credit_amount_cents", "total_amount_cents"]:
        def negative(r: pd.DataFrame, c: str = col) -> pd.Series:
            return r["who"] + ": " + c + " is negative (" + s(r, c) + ")"

        issues.check(a[col] < 0, a, negative)
    cr = credits[credits["key"].isin(k) & (of_type(credits["amount_cents"], int))]
    for ctype, col in [("coupon", "coupons_amount_cents"), ("invoice", "progressive_billing_credit_amount_cents"),
                       ("credit_note", "credit_notes_amount_cents")]:
        part = cr[cr["item_type"] == ctype]
        got = a.assign(_got=sum_by(k, part["key"], ints(part["amount_cents"])))
        def mismatch(r: pd.DataFrame, t: str = ctype, c: str = col) -> pd.Series:
            return r["who"] + ": its " + t + " credits sum to " + s(r, "_got") + " but " + c + " is " + s(r, c)

        issues.check(got["has_credits"].astype(bool) & (got["_got"] != got[col]), got, mismatch)


def _header_fields(h: pd.DataFrame, mappings: Mappings, settings: TransformSettings,
                   issues: docs.Issues) -> pd.DataFrame:
    """Resolve currency, subsidiary, customer and the Lago link of each invoice."""
    h["currency_id"] = resolve.resolve_currency(h, mappings)
    issues.check(h["currency_id"].isna(), h, lambda r: r["who"] + ": currency " + r["currency"].astype(str)
                 + " has no NetSuite currency mapping (billing entity " + r["billing_entity_code"].astype(str) + ")")
    h["subsidiary"] = resolve.resolve_subsidiary(h["billing_entity_code"], mappings)
    issues.check(h["subsidiary"].isna(), h, lambda r: r["who"] + ": billing entity "
                 + r["billing_entity_code"].astype(str).map(repr) + " has no NetSuite subsidiary mapping")
    no_cust = ~of_type(h["customer_lago_id"], str)
    issues.check(no_cust & h["customer_ns_id"].isna(), h, lambda r: r["who"] + ": customer.lago_id is missing, so "
                 "its NetSuite customer cannot be found")
    h["entity_id"] = h["customer_ns_id"]
    h["entity_ref"] = ("lago-customer-" + h["customer_lago_id"].astype(str)).where(h["customer_ns_id"].isna(), None)
    h["depends_on"] = [[r] if isinstance(r, str) else [] for r in h["entity_ref"].tolist()]
    h["trandate"] = ns_date(h["issuing_date"])
    h["duedate"] = ns_date(h["payment_due_date"])
    if settings.lago_web_url:
        h["link"] = _template(settings.lago_web_url, h)
    else:
        h["link"] = h["web_url"]
    return h


def _template(template: str, h: pd.DataFrame) -> pd.Series:
    """Vectorised ``str.format`` of the Lago link template over the invoices."""
    import string

    cols = {"invoice_lago_id": "lago_id", "customer_lago_id": "customer_lago_id", "number": "number",
            "billing_entity_code": "billing_entity_code"}
    out = pd.Series("", index=h.index, dtype=object)
    for literal, name, _, _ in string.Formatter().parse(template):
        out = out + literal
        if name:
            out = out + h[cols[name]].fillna("").astype(str)
    return out


def _grouping(lines: pd.DataFrame, h: pd.DataFrame, settings: TransformSettings) -> tuple[pd.DataFrame, pd.Series]:
    """Usage-charge lines to group per the rule: ``(group lines, mask of grouped fee lines)``."""
    g = settings.usage_grouping
    none = pd.Series(False, index=lines.index)
    if g is None or lines.empty:
        return lines.iloc[0:0], none
    ok = pd.Series(True, index=h.index)
    if g.invoice_types is not None:
        ok &= h["invoice_type"].isin(g.invoice_types)
    if g.billing_entities is not None:
        ok &= h["billing_entity_code"].isin(g.billing_entities)
    if g.customers is not None:
        ok &= h["customer_external_id"].isin(g.customers)
    charge = (lines["item_type"] == "charge") & lines["key"].isin(h.loc[ok, "key"])
    grouped = charge & (charge.groupby(lines["key"]).transform("sum") >= g.min_lines)
    gl = lines[grouped]
    if gl.empty:
        return gl, none
    agg = gl.groupby("key", sort=False).agg(
        line_no=("line_no", "min"), amount_minor=("amount_minor", "sum"),
        billing_entity_code=("billing_entity_code", "first"), exponent=("exponent", "first"),
        period_from_iso=("period_from_iso", "min"), period_to_iso=("period_to_iso", "max"),
        n=("line_ref", "size")).reset_index()
    names = gl.drop_duplicates(["key", "description"]).groupby("key", sort=False)["description"].agg(", ".join)
    desc = "Usage charges (" + agg["n"].astype(str) + " lines): " + agg["key"].map(names)
    agg["description"] = desc.where(desc.str.len() <= 999, desc.str.slice(0, 998) + "…")
    agg["quantity"] = "1"
    agg["rate"] = minor_to_text(agg["amount_minor"], agg["exponent"])
    agg["item"], agg["account"] = g.item.item, g.item.account
    agg["item_source"] = "usage_grouping"
    agg["line_kind"], agg["sublist"], agg["lago_line_id"] = "usage_group", "item", None
    agg["taxdetailsreference"] = GROUP_REF
    agg["period_from"], agg["period_to"] = ns_date(agg["period_from_iso"]), ns_date(agg["period_to_iso"])
    return agg, grouped


def _keyed(f: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Child rows keyed by their document's external id (built once per document)."""
    return f.assign(key=by_unique(f["invoice_id"].astype(str), lambda u: "lago-" + kind + "-" + u))


def _join(s: pd.Series, key: pd.Series, sep: str = ", ") -> pd.Series:
    """Strings joined per key (cythonised group sum, no Python call per group)."""
    if s.empty:
        return pd.Series(dtype=object)
    return (s.astype(str) + sep).groupby(key.to_numpy()).sum().str.slice(0, -len(sep))


FEE_KEEP = ["key", "seq", "lago_id", "item_type", "item_code", "item_name", "item_invoice_display_name",
            "item_filter_invoice_display_name", "units", "precise_unit_amount", "from_date", "to_date",
            "prop_charges_from_datetime", "prop_charges_to_datetime", "prop_from_datetime", "prop_to_datetime",
            "has_fee_taxes"]


def _fees(fr: LagoFrames, h: pd.DataFrame, kind: str, names: pd.Series, issues: docs.Issues) -> pd.DataFrame:
    """The fees of the invoices in ``h``, checked and typed, in a lean frame."""
    key = by_unique(fr.fees["invoice_id"].astype(str), lambda u: "lago-" + kind + "-" + u)
    keep = key.isin(h["key"]).to_numpy()
    raw = fr.fees[keep]
    raw.insert(0, "key", key[keep])
    issues.reason(column_problems(raw, FEE_SPEC, names=names,
                                  where=lambda r: "fees[" + r["seq"].astype(str) + "] (" + r["lago_id"].astype(str)
                                  + ")."))
    f = pd.DataFrame({("line_ref" if c == "lago_id" else c): raw[c] for c in FEE_KEEP})
    for c in ("line_ref", "item_type", "item_code"):
        f[c] = strings(f[c])
    f["amount_minor"] = ints(raw["amount_cents"])
    sub = raw["sub_total_excluding_taxes_amount_cents"]
    f["basis_minor"] = ints(sub).where(is_int64(sub), f["amount_minor"])
    f["fee_tax_minor"] = ints(raw["taxes_amount_cents"])
    f["rate_e6"] = taxes.rate_e6(raw["taxes_rate"].where(is_decimal_text(raw["taxes_rate"]), 0))
    out_of_range = (f["rate_e6"] < 0) | (f["rate_e6"] > taxes.MAX_RATE_E6)
    issues.check(out_of_range, f.assign(_r=raw["taxes_rate"]), lambda r: r["key"].map(names) + ": fee "
                 + r["line_ref"].astype(str) + " taxes_rate " + r["_r"].map(repr) + " is not a percentage")
    f["rate_e6"] = f["rate_e6"].where(~out_of_range, 0)
    head = h.set_index("key")
    f["billing_entity_code"] = f["key"].map(head["billing_entity_code"])
    f["exponent"] = f["key"].map(head["exponent"]).astype("int64")
    return f


def transform_invoices(fr: LagoFrames, mappings: Mappings, settings: TransformSettings,
                       synced: Collection[str], line_booked: Collection[str] = ()) -> docs.KindOutput:
    """Finalized invoices -> header, line and tax frames; voided synced invoices -> voids.

    With ``credit_notes: apply``, credit-note credits become credit memo applications
    (``extra_records``) except those of credit notes in ``line_booked`` (never in NetSuite), which
    stay a negative credit-note line.
    """
    kind = settings.invoice_record_type
    issues = docs.Issues(kind)
    inv = fr.invoices.drop_duplicates("lago_id", keep="last").copy()
    inv["key"] = "lago-" + kind + "-" + inv["lago_id"]
    inv["who"] = docs.label("invoice", inv["number"], inv["lago_id"])
    names = inv.set_index("key")["who"]
    ident = inv[["key", "lago_id", "number"]].assign(external_id=inv["key"])
    h, voids = _route(inv, set(synced), issues, kind)
    issues.reason(column_problems(h, HEADER_SPEC, names=names))
    for col, text in [("fees_ok", "fees is missing or not a list of objects (the show payload is needed)"),
                      ("credits_ok", "credits is not a list of objects"),
                      ("taxes_ok", "applied_taxes is not a list of objects")]:
        def malformed(r: pd.DataFrame, t: str = text) -> pd.Series:
            return r["who"] + ": " + t

        issues.check(~h[col].astype(bool), h, malformed)
    h = _ints(h, AMOUNTS, ("number", "currency", "billing_entity_code", "invoice_type", "issuing_date",
                          "payment_due_date", "web_url", "customer_lago_id", "customer_external_id"))
    incl = h["sub_total_including_taxes_amount_cents"]
    h["sub_total_including_taxes_amount_cents"] = incl.where(is_int64(incl), None)
    h["exponent"] = h["currency"].map(exponents(list(h["currency"].dropna().unique()))).fillna(2).astype("int64")
    credits = _keyed(fr.credits, kind)
    inv_taxes = _keyed(fr.invoice_taxes, kind)
    fee_taxes = _keyed(fr.fee_taxes, kind)
    fees = _fees(fr, h, kind, names, issues)
    _arithmetic(h, inv_taxes, credits, fees, issues)
    neg = fees[fees["amount_minor"] < 0]
    issues.reason(pd.DataFrame({"key": neg["key"], "reason": neg["key"].map(names) + ": fee "
                                + neg["line_ref"].astype(str) + " has a negative amount"}))
    zero = (h["total_amount_cents"] == 0) & ~h["key"].isin(issues.bad_keys()) & bool(settings.skip_zero_total)
    issues.skip(zero, h["key"], "zero-total invoice (skip_zero_total is on)")
    h = _header_fields(h[~zero].copy(), mappings, settings, issues)
    k = h["key"]
    fees = fees[fees["key"].isin(k)]
    positive = (fees["amount_minor"] > 0).to_numpy()
    has_positive = sum_by(k, fees["key"], pd.Series(positive.astype(np.int64), index=fees.index)) > 0
    fees = fees[positive | ~fees["key"].isin(k[has_positive])]
    lines, why = docs.fee_lines(fees, names, per_unit=True)
    issues.reason(why)
    group_lines, grouped = _grouping(lines, h, settings)
    single, reasons, warns = docs.attach_items(lines[~grouped], mappings, names)
    issues.reason(reasons)
    issues.warn(warns)
    apps = credit_applications.split_credit_note_credits(h, credits, settings, line_booked, issues)
    h["netsuite_total_minor"] = h["total_amount_cents"] + h["cn_applied_minor"]
    disc = _discounts(h, credits, mappings, names, issues)
    item_lines = pd.concat([single, group_lines, disc], ignore_index=True)
    lines.loc[grouped, "taxdetailsreference"] = GROUP_REF
    h["tax_total_minor"] = h["taxes_amount_cents"]
    if settings.tax_mode == "suitetax":
        tax_rows = _suitetax(h, lines, disc, inv_taxes, fee_taxes, mappings, issues, names)
    else:
        tax_rows, h = legacy_tax(h, inv_taxes[inv_taxes["key"].isin(k)], mappings, issues)
    check_totals(h, item_lines, tax_rows, settings.tax_mode, issues)
    out = finish(kind, issues, ident, h, item_lines, tax_rows, voids)
    out.extra_records = credit_applications.application_records(apps, out.headers)
    return out


def check_totals(h: pd.DataFrame, item_lines: pd.DataFrame, tax_rows: pd.DataFrame, tax_mode: str,
                 issues: docs.Issues) -> None:
    """The contract's invariant per document: item lines + tax total == Lago total, exactly."""
    k = h["key"]
    lines_sum = sum_by(k, item_lines["key"], item_lines["amount_minor"])
    tax_sum = sum_by(k, tax_rows["key"], tax_rows["amount_minor"]) if tax_mode == "suitetax" \
        else h["tax_total_minor"].astype("int64")
    a = h.assign(_lines=lines_sum, _tax=tax_sum)
    applied = a["cn_applied_minor"] if "cn_applied_minor" in a else 0
    a["_want"] = a["total_amount_cents"] + applied
    issues.check(a["_lines"] + a["_tax"] != a["_want"], a, lambda r: r["who"] + ": NetSuite lines "
                 + r["_lines"].astype(str) + " + tax " + r["_tax"].astype(str) + " != Lago total_amount_cents "
                 + r["total_amount_cents"].astype(str) + " + credit-note credits applied as memo applications "
                 + (r["_want"] - r["total_amount_cents"]).astype(str) + " (minor units)")


def _discounts(h: pd.DataFrame, credits: pd.DataFrame, mappings: Mappings, names: pd.Series,
               issues: docs.Issues) -> pd.DataFrame:
    """Coupons, prepaid credits, progressive-billing credits, credit-note credits: in that order."""
    cr = credits[credits["key"].isin(h["key"])]
    shown = cr["item_name"].where(cr["item_type"] != "credit_note", cr["item_code"])
    shown = shown.where(of_type(shown, str), cr["item_code"]).astype(str)
    listed = {t: _join(shown[cr["item_type"] == t], cr.loc[cr["item_type"] == t, "key"])
              for t in ("coupon", "invoice", "credit_note")}

    def desc(base: str, ctype: str | None) -> pd.Series:
        if ctype is None:
            return pd.Series(base, index=h.index, dtype=object)
        what = h["key"].map(listed[ctype]).astype(object)
        return (base + ": " + what.fillna("")).where(what.notna(), base)

    disc, reasons, warns = docs.discount_lines(h, [
        ("coupon", "coupons_amount_cents", "coupon", desc("Coupons", "coupon"), "coupons"),
        ("prepaid_credit", "prepaid_credit_amount_cents", "prepaid_credit", desc("Prepaid credits", None),
         "prepaid_credits"),
        ("progressive_billing_credit", "progressive_billing_credit_amount_cents", "prepaid_credit",
         desc("Progressive billing credits", "invoice"), "progressive_billing_credits"),
        ("credit_note_credit", "cn_line_minor", "credit_note", desc("Credit notes", "credit_note"),
         "credit_note_credits"),
    ], mappings, names)
    issues.reason(reasons)
    issues.warn(warns)
    return disc


def _suitetax(h: pd.DataFrame, lines: pd.DataFrame, disc: pd.DataFrame, inv_taxes: pd.DataFrame,
              fee_taxes: pd.DataFrame, mappings: Mappings, issues: docs.Issues, names: pd.Series) -> pd.DataFrame:
    """taxdetails rows of the invoices and each document's nexus (set on ``h``)."""
    k = h["key"]
    tax_src = pd.concat([lines, disc], ignore_index=True)
    tax_src["has_fee_taxes"] = tax_src["has_fee_taxes"].astype("boolean").fillna(False).astype(bool)
    for c in ("rate_e6", "fee_tax_minor", "basis_minor"):
        tax_src[c] = tax_src[c].fillna(0).astype("int64")
    tax_src["line_ref"] = tax_src["line_ref"].where(tax_src["line_ref"].notna(), tax_src["taxdetailsreference"])
    targets = inv_taxes[inv_taxes["key"].isin(k)]
    targets = targets.assign(rate_e6=taxes.rate_e6(targets["tax_rate"]),
                             target=ints(targets["amount_cents"]),
                             base=0, who=targets["key"].map(h.set_index("key")["who"]))
    ft = fee_taxes[fee_taxes["key"].isin(k)]
    explicit = pd.DataFrame({"key": ft["key"], "line_ref": ft["fee_id"], "tax_code": ft["tax_code"],
                             "rate_e6_given": taxes.rate_e6(ft["tax_rate"]),
                             "amount_minor": ints(ft["amount_cents"])})
    tax_rows, reasons = taxes.suitetax_rows(tax_src, targets, explicit, h.set_index("key")["taxes_amount_cents"],
                                           estimate="split", mappings=mappings, names=names)
    issues.reason(reasons)
    default = resolve.resolve_taxes(h[["billing_entity_code"]].assign(lago_tax_code=""), mappings, "suitetax")
    nexus, reasons = taxes.document_nexus(tax_rows, default["nexus"].set_axis(k), names)
    h["nexus"] = nexus.to_numpy()
    issues.reason(reasons)
    return tax_rows


def legacy_tax(h: pd.DataFrame, doc_taxes: pd.DataFrame, mappings: Mappings,
               issues: docs.Issues) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Legacy tax mode: one tax item per document and ``taxamountoverride`` = the document's tax.

    The tax item is the one all the document's taxes map to; when they map to different items (or
    the document has no tax) the billing entity's / organization's default tax item is used.
    """
    dt = doc_taxes.merge(h[["key", "billing_entity_code"]], on="key")
    dt = dt[of_type(dt["amount_cents"], int) & (dt["amount_cents"] != 0)]
    dt = resolve.resolve_taxes(dt.assign(lago_tax_code=dt["tax_code"].astype(str)), mappings, "legacy")
    g = dt.groupby("key")["tax_item"]
    single = (g.nunique() == 1) & ~dt["tax_item"].isna().groupby(dt["key"]).any()
    per_doc = g.first().where(single)
    codes = _join(dt["lago_tax_code"], dt["key"], ",")
    default = resolve.resolve_taxes(h[["billing_entity_code"]].assign(lago_tax_code=""), mappings, "legacy")
    item = h["key"].map(per_doc)
    h["tax_item"] = item.where(item.notna(), default["tax_item"].to_numpy()).astype(object)
    h["nexus"] = None
    issues.where(h["tax_item"].isna(), h["key"], h["who"] + ": no tax item for its taxes ("
                 + h["key"].map(codes).fillna("none") + ") and no default tax item for billing entity "
                 + h["billing_entity_code"].astype(str))
    rows = pd.DataFrame({"key": h["key"], "taxdetailsreference": None, "line_no": 0,
                         "lago_tax_code": h["key"].map(codes).fillna(""), "nexus": None, "taxtype": None,
                         "taxcode": None, "tax_item": h["tax_item"],
                         "basis_minor": h["sub_total_excluding_taxes_amount_cents"].astype("int64"),
                         "rate": None, "amount_minor": h["tax_total_minor"].astype("int64"), "residual_minor": 0,
                         "tax_source": "legacy_document_total"})
    return rows, h


def finish(kind: str, issues: docs.Issues, ident: pd.DataFrame, h: pd.DataFrame, lines: pd.DataFrame,
           tax_rows: pd.DataFrame, voids: pd.DataFrame, keep_cols: Collection[str] = ()) -> docs.KindOutput:
    """Drop held-back documents and shape the frames of one transaction kind."""
    quarantined, warnings, skipped = issues.frames(ident)
    bad = set(quarantined["external_id"])
    keep = ~h["key"].isin(bad)
    h = h[keep].rename(columns={"key": "external_id"}).reset_index(drop=True)
    lines = lines[~lines["key"].isin(bad)].rename(columns={"key": "external_id"})
    # Group lines by document in header order (integer sort keys, not string sorts).
    doc = pd.Index(h["external_id"].to_numpy()).get_indexer(lines["external_id"].to_numpy())
    order = np.lexsort((lines["line_no"].to_numpy(dtype=np.int64), (lines["sublist"] != "item").to_numpy(), doc))
    lines = lines.iloc[order].reset_index(drop=True)
    exponent = h["exponent"].to_numpy(dtype=np.int64)
    lines["exponent"] = exponent[doc[order]]
    tax_rows = tax_rows[~tax_rows["key"].isin(bad)].rename(columns={"key": "external_id"}).reset_index(drop=True)
    tax_rows["exponent"] = exponent[pd.Index(h["external_id"].to_numpy()).get_indexer(tax_rows["external_id"])]
    warnings = warnings[~warnings["external_id"].isin(bad)].reset_index(drop=True)
    line_cols = [c for c in docs.LINE_COLUMNS if c in lines] + [c for c in keep_cols if c in lines]
    tax_cols = [c for c in docs.TAX_COLUMNS if c in tax_rows]
    lines["amount_minor"] = lines["amount_minor"].astype("int64")
    return docs.KindOutput(headers=h, lines=lines[line_cols], taxes=tax_rows[tax_cols],
                           quarantined=quarantined, warnings=warnings, skipped=skipped,
                           voids=voids.reset_index(drop=True))
