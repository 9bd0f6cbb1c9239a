"""Tax rows per (line, tax), reconciled to the cent against the document's own tax totals.

Lago's invoice show payload gives each fee its tax total and combined rate, and the invoice its
taxes per tax code (rounded at invoice level). We attribute tax codes to lines (explicitly from a
fee's ``applied_taxes`` when present, else by matching the fee's rate to a combination of the
document's tax rates), estimate each (line, tax) amount, then absorb the rounding residual of
every tax code into that code's largest row. So the rows of each tax code sum exactly to Lago's
amount for that code, and the rows of the document to its tax total — with or without a coupon.

Everything here works on integer ids (document ``doc``, line ``lid``, tax code ``tc``) so the
joins of a million rows are integer joins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lago_netsuite.transform import resolve
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.numbers import minor_to_text, normalize_text, scaled_int

RATE_SCALE = 6  # tax rates are compared as integers in 1e-6 percent: float noise disappears
MAX_TAXES_PER_DOC = 10
MAX_RATE_E6 = 1000 * 10**RATE_SCALE  # a tax rate above 1000 % is not a tax rate
_REASON_COLS = ["key", "reason"]


def no_reasons() -> pd.DataFrame:
    """An empty ``(key, reason)`` frame."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in _REASON_COLS})


def muldiv_half_up(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b / c`` rounded half away from zero, exactly (Python ints past int64); 0 where c == 0."""
    a_, b_, c_ = (np.asarray(x, dtype=np.int64) for x in (a, b, c))
    c_safe = np.where(c_ == 0, 1, c_)
    if float(np.abs(a_).max(initial=0)) * float(np.abs(b_).max(initial=0)) > 2.0**61:
        num = a_.astype(object) * b_.astype(object)
        den = c_safe.astype(object)
        mag = (2 * np.abs(num) + den) // (2 * den)
        out = np.array([int(x) for x in np.sign(num) * mag], dtype=np.int64)
    else:
        num = a_ * b_
        out = np.sign(num) * ((2 * np.abs(num) + c_safe) // (2 * c_safe))
    return np.where(c_ == 0, 0, out).astype(np.int64)


def rate_e6(rate: pd.Series) -> pd.Series:
    """Tax rates (float/str percent) as exact integers in 1e-6 percent (-1 when absurdly large)."""
    text = normalize_text(rate.where(rate.notna(), 0))
    sane = text.str.len().fillna(0) <= 30  # beyond that it overflows int64 and is no rate anyway
    return scaled_int(text.where(sane, "-1"), RATE_SCALE).where(sane, -1)


def infer_codes(lines: pd.DataFrame, doc_taxes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attribute tax codes to taxed lines by matching each line's rate to a combination of its
    document's tax rates.

    Args:
        lines: ``doc, lid, rate_e6`` for lines whose taxes are not given explicitly.
        doc_taxes: ``doc, tc, rate_e6`` — the documents' applied taxes.

    Returns:
        ``(pairs, unmatched)``: pairs ``lid, tc, tax_rate_e6``; unmatched ``doc, lid, rate_e6, n,
        too_many`` for lines whose rate matches no combination (n = 0) or several (n > 1).
    """
    dt = doc_taxes[doc_taxes["doc"].isin(lines["doc"])].drop_duplicates(["doc", "tc"])
    dt = dt.assign(bit=dt.groupby("doc").cumcount())
    k = dt.groupby("doc")["bit"].transform("size")
    too_many = dt.loc[k > MAX_TAXES_PER_DOC, "doc"].unique()
    combos = []
    for size, part in dt[k <= MAX_TAXES_PER_DOC].groupby(k[k <= MAX_TAXES_PER_DOC]):
        masks = np.arange(1, 2 ** int(size), dtype=np.int64)
        rep = np.repeat(np.arange(len(part)), len(masks))
        mask = np.tile(masks, len(part))
        bits = part["bit"].to_numpy()[rep]
        keep = (mask >> bits) & 1 == 1
        combos.append(pd.DataFrame({"doc": part["doc"].to_numpy()[rep][keep], "mask": mask[keep],
                                    "tc": part["tc"].to_numpy()[rep][keep],
                                    "tax_rate_e6": part["rate_e6"].to_numpy()[rep][keep]}))
    combo = pd.concat(combos, ignore_index=True) if combos else pd.DataFrame(
        {c: pd.Series(dtype="int64") for c in ["doc", "mask", "tc", "tax_rate_e6"]})
    sums = combo.groupby(["doc", "mask"], as_index=False)["tax_rate_e6"].sum()
    sums = sums.rename(columns={"tax_rate_e6": "rate_e6"})
    matches = lines[["doc", "lid", "rate_e6"]].merge(sums, on=["doc", "rate_e6"], how="left")
    n = matches.groupby("lid")["mask"].transform("count")
    unmatched = matches[n.to_numpy() != 1].drop_duplicates("lid").assign(n=n[n.to_numpy() != 1])
    unmatched["too_many"] = unmatched["doc"].isin(too_many)
    good = matches[n.to_numpy() == 1]
    pairs = good[["doc", "lid", "mask"]].merge(combo, on=["doc", "mask"])
    return pairs[["lid", "tc", "tax_rate_e6"]], unmatched


def split_by_rate(lid: np.ndarray, rate: np.ndarray, line_tax: np.ndarray) -> np.ndarray:
    """Split each line's tax total over its codes in proportion to their rates; exact per line.

    Rows must be grouped by ``lid`` (adjacent). The last code of a line takes what the others
    leave, so the line's rows sum to its total.
    """
    s = pd.Series(rate)
    total_rate = s.groupby(lid).transform("sum").to_numpy()
    share = muldiv_half_up(line_tax, rate, total_rate)
    last = np.r_[lid[1:] != lid[:-1], True] if len(lid) else np.array([], dtype=bool)
    others = pd.Series(np.where(last, 0, share)).groupby(lid).transform("sum").to_numpy()
    return np.where(last, line_tax - others, share).astype(np.int64)


def allocate(group: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Spread each group's target over its rows in proportion to ``weight`` (an estimate)."""
    w = pd.Series(weight)
    wsum = w.groupby(group).transform("sum").to_numpy()
    n = w.groupby(group).transform("size").to_numpy()
    equal = wsum == 0
    return muldiv_half_up(target, np.where(equal, 1, weight), np.where(equal, n, wsum))


def reconcile(group: np.ndarray, value: np.ndarray, line_no: np.ndarray, t_group: np.ndarray,
              t_value: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Make the rows of every group (document, tax code) sum exactly to the group's target.

    The residual goes to the row of the group with the largest absolute amount (first line on a
    tie), so a cent of rounding lands where it distorts least and never on a discount line.

    Returns:
        ``(values, residual per row, groups)``; groups has ``group, target, sum, n, residual,
        has_rows, has_target`` for the caller's checks.
    """
    rows = pd.DataFrame({"group": group, "value": value})
    sums = rows.groupby("group")["value"].agg(["sum", "size"])
    tg = pd.Series(t_value, index=t_group).groupby(level=0).sum()
    groups = pd.DataFrame({"target": tg}).join(sums, how="outer")
    groups["has_rows"] = groups["size"].notna()
    groups["has_target"] = groups["target"].notna()
    groups = groups.fillna(0).astype({"target": "int64", "sum": "int64", "size": "int64"})
    groups["residual"] = groups["target"] - groups["sum"]
    order = np.lexsort((line_no, -np.abs(value), group))
    g_sorted = group[order]
    first = order[np.r_[True, g_sorted[1:] != g_sorted[:-1]]] if len(order) else order
    residual = np.zeros(len(value), dtype=np.int64)
    residual[first] = groups["residual"].reindex(group[first]).to_numpy(dtype=np.int64)
    return (value + residual).astype(np.int64), residual, groups.rename(columns={"size": "n"}).rename_axis("group") \
        .reset_index()


def document_nexus(rows: pd.DataFrame, default_nexus: pd.Series,
                   names: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """One nexus per document: the nexus of its taxed rows, else its default mapping's nexus.

    Args:
        rows: tax rows with ``key, lago_tax_code, nexus``.
        default_nexus: the default mapping's nexus, indexed by key.
        names: document key -> how it is named in messages.

    Returns:
        ``(nexus by key, reasons)`` — documents whose taxes map to different nexuses are reported.
    """
    taxed = rows[(rows["lago_tax_code"] != "") & rows["nexus"].notna()]
    uniq = taxed.drop_duplicates(["key", "nexus"])
    count = uniq.groupby("key")["nexus"].size()
    multi = count[count > 1].index
    nexus = uniq.drop_duplicates("key").set_index("key")["nexus"]
    out = default_nexus.copy().astype(object)
    out.loc[nexus.index.intersection(out.index)] = nexus
    bad = uniq[uniq["key"].isin(multi)].sort_values(["key", "nexus"])
    if bad.empty:
        return out, no_reasons()
    listed = (bad["nexus"].astype(str) + ", ").groupby(bad["key"].to_numpy()).sum().str.slice(0, -2)
    keys = pd.Series(listed.index, dtype=object)
    reasons = pd.DataFrame({"key": keys, "reason": keys.map(names) + ": its taxes map to different NetSuite "
                            "nexuses (" + pd.Series(listed.to_numpy(), dtype=object) + "); one transaction has "
                            "one nexus"})
    return out, reasons


def suitetax_rows(lines: pd.DataFrame, targets: pd.DataFrame, explicit: pd.DataFrame, totals: pd.Series, *,
                  estimate: str, mappings: Mappings, names: pd.Series,
                  prefix: str = "fee ") -> tuple[pd.DataFrame, pd.DataFrame]:
    """taxdetails rows for all lines of all documents, reconciled per (document, tax code), then
    per document.

    Lago rounds each applied tax and, separately, the unrounded sum of them into the document's
    tax total, so the two can differ by a cent per pair of taxes. The rows of each code are first
    made to sum to that code's applied tax; the remaining document-level cent (if any) goes to the
    document's largest row. Both residuals land on fee rows, never on discount lines.

    Args:
        lines: item lines with ``key, billing_entity_code, line_no, line_kind, line_ref,
            taxdetailsreference, rate_e6, basis_minor, fee_tax_minor, has_fee_taxes`` (grouped
            fee lines keep their own ``line_ref`` and share the group's reference).
        targets: the documents' applied taxes ``key, tax_code, rate_e6, target, base, who``.
        explicit: per-fee taxes Lago gave explicitly ``key, line_ref, tax_code, rate_e6_given,
            amount_minor``.
        totals: each document's tax total (``taxes_amount_cents``), indexed by key.
        estimate: ``split`` (a fee's own tax total split by rate: invoices) or ``allocate`` (the
            document's amount per code spread by line amount: credit notes).
        mappings: the mapping, for nexus / tax type / tax code.
        names: document key -> how it is named in messages; ``prefix`` names a fee line.

    Returns:
        ``(rows, reasons)``; rows have ``key`` and ``TAX_COLUMNS`` (without external_id).
    """
    reasons = []
    keys = pd.Index(pd.unique(lines["key"]))
    codes = pd.Index(pd.unique(pd.concat([targets["tax_code"], explicit["tax_code"]]).astype(str)))
    nc = max(len(codes), 1)
    doc = keys.get_indexer(lines["key"])
    rid = lines.groupby(["key", "taxdetailsreference"], sort=False).ngroup().to_numpy()
    fee = (lines["line_kind"] == "fee").to_numpy()
    rate = lines["rate_e6"].to_numpy(dtype=np.int64)
    fee_tax = lines["fee_tax_minor"].to_numpy(dtype=np.int64)
    basis = lines["basis_minor"].to_numpy(dtype=np.int64)
    line_no = lines["line_no"].to_numpy(dtype=np.int64)
    taxed = fee & ((rate != 0) | (fee_tax != 0))
    given = taxed & lines["has_fee_taxes"].to_numpy(dtype=bool)
    tg = pd.DataFrame({"doc": keys.get_indexer(targets["key"]),
                       "tc": codes.get_indexer(targets["tax_code"].astype(str)),
                       "rate_e6": targets["rate_e6"].to_numpy(dtype=np.int64),
                       "target": targets["target"].to_numpy(dtype=np.int64),
                       "base": targets["base"].to_numpy(dtype=np.int64)})
    tg = tg[tg["doc"] >= 0]
    # Explicit per-fee taxes (Lago sent fee.applied_taxes): codes and amounts as given.
    ref_index = pd.DataFrame({"key": lines["key"], "line_ref": lines["line_ref"], "lid": np.arange(len(lines))})[given]
    ex = explicit.merge(ref_index, on=["key", "line_ref"])
    ex_rows = pd.DataFrame({"lid": ex["lid"].to_numpy(dtype=np.int64),
                            "tc": codes.get_indexer(ex["tax_code"].astype(str)),
                            "tax_rate_e6": ex["rate_e6_given"].to_numpy(dtype=np.int64),
                            "amount": ex["amount_minor"].to_numpy(dtype=np.int64)})
    doc_rate = pd.Series(tg["rate_e6"].to_numpy(), index=tg["doc"].to_numpy() * nc + tg["tc"].to_numpy())
    doc_rate = doc_rate[~doc_rate.index.duplicated()]
    known = doc_rate.reindex(doc[ex_rows["lid"]] * nc + ex_rows["tc"].to_numpy())
    ex_rows["tax_rate_e6"] = np.where(known.notna(), known.fillna(0), ex_rows["tax_rate_e6"]).astype(np.int64)
    # Inferred: the fee's combined rate matched against combinations of the document's rates.
    todo = taxed & ~given
    pairs, unmatched = infer_codes(pd.DataFrame({"doc": doc[todo], "lid": np.flatnonzero(todo),
                                                       "rate_e6": rate[todo]}), tg)
    if len(unmatched):
        u = lines.iloc[unmatched["lid"].to_numpy()]
        rate_txt = pd.Series(unmatched["rate_e6"].to_numpy() / 10**RATE_SCALE, index=u.index).map(
            lambda v: f"{v:g}")
        why = np.where(unmatched["too_many"], f"the document has more than {MAX_TAXES_PER_DOC} taxes",
                       np.where(unmatched["n"] == 0, "matches no combination of the document's applied taxes",
                                "matches several combinations of the document's applied taxes (ambiguous)"))
        reasons.append(pd.DataFrame({"key": u["key"], "reason": u["key"].map(names) + ": " + prefix
                                     + u["line_ref"].astype(str) + " tax rate " + rate_txt + "% " + why
                                     + "; cannot tell which taxes it carries"}))
    pairs = pairs.sort_values(["lid", "tc"], kind="stable")
    lid = pairs["lid"].to_numpy(dtype=np.int64)
    if estimate == "split":
        amount = split_by_rate(lid, pairs["tax_rate_e6"].to_numpy(dtype=np.int64), fee_tax[lid])
    else:
        amount = np.zeros(len(pairs), dtype=np.int64)
    rows = pd.concat([pd.DataFrame({"lid": lid, "tc": pairs["tc"].to_numpy(dtype=np.int64),
                                    "tax_rate_e6": pairs["tax_rate_e6"].to_numpy(dtype=np.int64), "amount": amount}),
                      ex_rows], ignore_index=True)
    lid = rows["lid"].to_numpy(dtype=np.int64)
    tc = rows["tc"].to_numpy(dtype=np.int64)
    group = doc[lid] * nc + tc
    row_basis = basis[lid]
    t_group = tg["doc"].to_numpy() * nc + tg["tc"].to_numpy()
    if estimate == "allocate":
        t_amount = pd.Series(tg["target"].to_numpy(), index=t_group).groupby(level=0).sum()
        t_base = pd.Series(tg["base"].to_numpy(), index=t_group).groupby(level=0).sum()
        weight = row_basis
        rows["amount"] = allocate(group, t_amount.reindex(group).fillna(0).to_numpy(dtype=np.int64), weight)
        est_basis = allocate(group, t_base.reindex(group).fillna(0).to_numpy(dtype=np.int64), weight)
        row_basis, _, _ = reconcile(group, est_basis, line_no[lid], t_base.index.to_numpy(), t_base.to_numpy())
    # Grouped fee lines share one taxdetailsreference: one row per (reference, tax code).
    rows["rid"], rows["basis"], rows["line_no"] = rid[lid], row_basis, line_no[lid]
    rows = rows.groupby(["rid", "tc"], as_index=False, sort=False).agg(
        lid=("lid", "first"), line_no=("line_no", "min"), tax_rate_e6=("tax_rate_e6", "first"),
        amount=("amount", "sum"), basis=("basis", "sum"))
    lid = rows["lid"].to_numpy(dtype=np.int64)
    group = doc[lid] * nc + rows["tc"].to_numpy(dtype=np.int64)
    value, residual, groups = reconcile(group, rows["amount"].to_numpy(dtype=np.int64),
                                              rows["line_no"].to_numpy(), t_group, tg["target"].to_numpy())
    reasons.append(_tax_reasons(groups, keys, codes, nc, names, bound=(estimate == "split")))
    doc_total = totals.reindex(keys).fillna(0).to_numpy(dtype=np.int64)
    row_doc = doc[lid]
    value, doc_residual, doc_groups = reconcile(row_doc, value, rows["line_no"].to_numpy(),
                                                      np.arange(len(keys)), doc_total)
    residual = residual + doc_residual
    orphan = doc_groups[doc_groups["has_target"] & ~doc_groups["has_rows"] & (doc_groups["target"] != 0)]
    if len(orphan):
        k = pd.Series(keys.take(orphan["group"].to_numpy()), dtype=object)
        reasons.append(pd.DataFrame({"key": k, "reason": k.map(names) + ": a tax total of "
                                     + orphan["target"].astype(str).to_numpy() + " (minor units) but no line "
                                     "carries a tax"}))
    taxed_rows = pd.DataFrame({
        "key": keys.take(doc[lid]), "taxdetailsreference": lines["taxdetailsreference"].to_numpy()[lid],
        "line_no": rows["line_no"].to_numpy(), "lago_tax_code": codes.take(rows["tc"].to_numpy()),
        "tax_rate_e6": rows["tax_rate_e6"].to_numpy(), "amount_minor": value, "residual_minor": residual,
        "basis_minor": rows["basis"].to_numpy(dtype=np.int64)})
    # Untaxed fee lines and every discount line get one zero row on the default tax mapping: their
    # effect on tax is already inside the fee rows (coupons and progressive billing are allocated to
    # fees before tax) or they are post-tax (credit notes, wallet).
    pick = ~np.isin(rid, rows["rid"].to_numpy()) & ~pd.Series(rid).duplicated().to_numpy()
    zero = pd.DataFrame({
        "key": lines["key"].to_numpy()[pick], "taxdetailsreference": lines["taxdetailsreference"].to_numpy()[pick],
        "line_no": line_no[pick], "lago_tax_code": "", "tax_rate_e6": 0, "amount_minor": 0, "residual_minor": 0,
        "basis_minor": np.where(fee[pick], basis[pick], 0)})
    out = pd.concat([taxed_rows, zero], ignore_index=True)
    entity = pd.Series(lines["billing_entity_code"].to_numpy(), index=lines["key"].to_numpy())
    out["billing_entity_code"] = entity[~entity.index.duplicated()].reindex(out["key"]).to_numpy()
    out = resolve.resolve_taxes(out, mappings, "suitetax")
    bad = ~out["tax_complete"].astype(bool)
    if bad.any():
        b = out[bad]
        what = np.where(b["lago_tax_code"] == "", "untaxed or discount lines (default tax)",
                        "tax " + b["lago_tax_code"].map(repr))
        reasons.append(pd.DataFrame({"key": b["key"], "reason": b["key"].map(names) + ": " + what
                                     + " of billing entity " + b["billing_entity_code"].astype(str)
                                     + " has no complete SuiteTax mapping (nexus, tax_type, tax_code) at any level"}))
    out["rate"] = minor_to_text(out["tax_rate_e6"].astype("int64"), RATE_SCALE)
    out = out.rename(columns={"tax_type": "taxtype", "tax_code": "taxcode"})
    out["amount_minor"] = out["amount_minor"].astype("int64")
    out["basis_minor"] = out["basis_minor"].astype("int64")
    out = out.sort_values(["key", "line_no", "lago_tax_code"], kind="stable").reset_index(drop=True)
    return out, pd.concat(reasons, ignore_index=True)


def _tax_reasons(groups: pd.DataFrame, keys: pd.Index, codes: pd.Index, nc: int, names: pd.Series,
                 *, bound: bool) -> pd.DataFrame:
    """Documents whose per-code taxes cannot be reconciled (Lago's arithmetic does not add up)."""
    g = groups.assign(key=keys.take(groups["group"] // nc), code=codes.take(groups["group"] % nc))
    parts = []
    orphan = g[g["has_target"] & ~g["has_rows"] & (g["target"] != 0)]
    if len(orphan):
        parts.append(pd.DataFrame({"key": orphan["key"], "reason": orphan["key"].map(names) + ": applied tax "
                                   + orphan["code"].map(repr) + " of " + orphan["target"].astype(str)
                                   + " (minor units) is carried by no line"}))
    if bound:
        stray = g[~g["has_target"] & g["has_rows"]]
        if len(stray):
            parts.append(pd.DataFrame({"key": stray["key"], "reason": stray["key"].map(names) + ": a fee carries tax "
                                       + stray["code"].map(repr) + " that the document's applied_taxes do not list"}))
        far = g[g["has_target"] & g["has_rows"] & (g["residual"].abs() > g["n"])]
        if len(far):
            parts.append(pd.DataFrame({"key": far["key"], "reason": far["key"].map(names) + ": fee taxes for "
                                       + far["code"].map(repr) + " sum to " + far["sum"].astype(str)
                                       + " but the document says " + far["target"].astype(str)
                                       + " (minor units): more than rounding can explain"}))
    return pd.concat(parts, ignore_index=True) if parts else no_reasons()
