"""Benchmark: transform + validate 100,000 Lago invoices, vectorised vs a per-document loop.

Generates the invoices (with their credit notes, payments and customers) with the Lago sandbox
generator's streaming iterator, in chunks, then runs in a fresh subprocess each:

- ``vectorised``: ``transform_documents`` + ``run_gate`` (Great Expectations, Data Docs) per chunk;
- ``loop``: a straightforward per-document Python loop (Decimal arithmetic, dict building per
  document, the same mapping resolution, tax reconciliation and checks) over the same chunks.

Generation is not timed. Printed per implementation: wall time, documents/s, peak memory (RSS
high-water mark of the subprocess, which includes the chunk being processed), then the ratio.

    .venv/bin/python benchmarks/transform.py [--invoices 100000] [--chunk 20000] [--seed 42]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devtools"), str(ROOT), str(ROOT / "benchmarks")]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def chunks(invoices: int, chunk: int, seed: int) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Chunks of ``chunk`` invoices with their credit notes, payments and (new) customers."""
    from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, iter_invoice_bundles

    spec = DatasetSpec(seed=seed, customers=max(10, invoices // 10), invoices=invoices)
    seen: set[str] = set()
    batch: dict[str, list[dict[str, Any]]] = {"invoices": [], "credit_notes": [], "payments": [], "customers": []}
    for invoice, notes, payments in iter_invoice_bundles(spec):
        batch["invoices"].append(invoice)
        batch["credit_notes"].extend(notes)
        batch["payments"].extend(payments)
        cust = invoice.get("customer") or {}
        if cust.get("lago_id") not in seen:
            seen.add(cust.get("lago_id"))
            batch["customers"].append(cust)
        if len(batch["invoices"]) == chunk:
            yield batch
            batch = {"invoices": [], "credit_notes": [], "payments": [], "customers": []}
    if batch["invoices"]:
        yield batch


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(mode: str, invoices: int, chunk: int, seed: int) -> dict[str, Any]:
    """Process every chunk with one implementation; only the processing is timed."""
    from lago_netsuite.transform import TransformSettings, load_mappings, transform_documents

    mappings = load_mappings(ROOT / "include" / "mappings" / "netsuite_mapping.yaml")
    settings = TransformSettings.from_mappings(mappings)
    docs_dir = Path(tempfile.mkdtemp(prefix="lago-netsuite-data-docs-"))
    if mode == "vectorised":
        from lago_netsuite.validate import run_gate

        def process(batch: dict[str, list[dict[str, Any]]], n: int) -> tuple[int, int]:
            result = transform_documents(**batch, mappings=mappings, settings=settings)
            gate = run_gate(result, data_docs_dir=docs_dir, run_id=f"bench-{n}")
            return len(gate.records), len(gate.quarantined)
    else:
        def process(batch: dict[str, list[dict[str, Any]]], n: int) -> tuple[int, int]:
            records, quarantined = loop_transform(**batch, mappings=mappings, settings=settings)
            return len(records), len(quarantined)

    t_imports = time.perf_counter()
    if mode == "vectorised":
        import great_expectations  # noqa: F401 - a one-off import cost, reported separately
    imports = time.perf_counter() - t_imports
    elapsed = cpu = 0.0
    docs = fees = records = quarantined = 0
    for n, batch in enumerate(chunks(invoices, chunk, seed)):
        docs += sum(len(v) for v in batch.values())
        fees += sum(len(i.get("fees") or ()) for i in batch["invoices"])
        start, cpu_start = time.perf_counter(), time.process_time()
        r, q = process(batch, n)
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        records += r
        quarantined += q
        del batch
    return {"mode": mode, "seconds": elapsed, "cpu_seconds": cpu, "imports": imports, "documents": docs, "fees": fees,
            "records": records, "quarantined": quarantined, "peak_rss_mb": _peak_rss_mb(), "data_docs": str(docs_dir)}


# --- the per-document loop baseline -------------------------------------------------------------
# The same job the straightforward way: for each document, Python dict lookups for the mapping
# (same resolution order), Decimal arithmetic for amounts, rates and taxes (same split by rate,
# same per-code and per-document residual rules), the same checks, and a body dict built field by
# field; then a per-document validation of the body (required fields, precision, invariant).

from decimal import ROUND_HALF_UP, Decimal  # noqa: E402
from itertools import combinations  # noqa: E402

from lago_netsuite.money import exponent as _exponent  # noqa: E402
from lago_netsuite.money import json_number  # noqa: E402

_FEE_KEYS = {"charge": ("billable_metrics", None), "add_on": ("add_ons", None), "fixed_charge": ("add_ons", None),
             "subscription": ("defaults", "subscription_fee"), "commitment": ("defaults", "minimum_commitment"),
             "credit": ("defaults", "prepaid_credit")}


def _item(m: Any, entity: str, table: str, code: str) -> tuple[Any, bool]:
    ent = m.billing_entities.get(entity)
    if ent is not None:
        ref = getattr(ent, table).get(code)
        if ref:
            return ref, False
        if ent.fallback:
            return ent.fallback, True
    ref = getattr(m.organization, table).get(code)
    if ref:
        return ref, False
    return m.organization.fallback, True


def _tax(m: Any, entity: str, code: str) -> Any:
    ent = m.billing_entities.get(entity)
    for ref in ((ent.taxes.get(code) if ent else None), m.organization.taxes.get(code),
                (ent.tax_default if ent else None), m.organization.tax_default):
        if ref is not None:
            return ref
    return None


def _trim(text: str) -> str | None:
    d = Decimal(str(text))
    t = format(d, "f")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    if len(t) <= 15:
        return t
    point = t.find(".")
    if point < 0 or 14 - point < 0:
        return None
    t = format(d.quantize(Decimal(1).scaleb(-(14 - point)), rounding=ROUND_HALF_UP), "f")
    return t.rstrip("0").rstrip(".") if "." in t else t


def _date(iso: str | None) -> str | None:
    if not iso:
        return None
    y, mo, d = iso[:10].split("-")
    return f"{int(mo)}/{int(d)}/{y}"


def _rhu(v: Decimal) -> int:
    return int(v.to_integral_value(rounding=ROUND_HALF_UP))


_INV_INT = ("fees_amount_cents", "coupons_amount_cents", "sub_total_excluding_taxes_amount_cents", "taxes_amount_cents",
            "credit_notes_amount_cents", "prepaid_credit_amount_cents", "total_amount_cents")
_FEE_INT = ("amount_cents", "taxes_amount_cents")


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _described(fee: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A fee line's description and service period (charges: their charges period)."""
    it, props = fee["item"], fee.get("properties") or {}
    charge = it["type"] == "charge"
    start = (props.get("charges_from_datetime") if charge else props.get("from_datetime")) or fee.get("from_date")
    end = (props.get("charges_to_datetime") if charge else props.get("to_datetime")) or fee.get("to_date")
    name = it.get("invoice_display_name") or it.get("name") or it.get("code")
    if it.get("filter_invoice_display_name"):
        name = f"{name} — {it['filter_invoice_display_name']}"
    return name, start, end


def _loop_invoice(inv: dict[str, Any], m: Any, s: Any, out: dict[str, list[Any]]) -> tuple[dict[str, Any] | None,
                                                                                             list[str]]:
    who = f"invoice {inv.get('number')}"
    status = inv.get("status")
    if status != "finalized":
        out["skipped"].append((inv.get("lago_id"), f"status {status}"))
        return None, []
    problems = [f"{who}: {k} is not an integer" for k in _INV_INT if not _int(inv.get(k))]
    for k in ("number", "issuing_date", "billing_entity_code", "currency"):
        if not isinstance(inv.get(k), str) or not inv[k]:
            problems.append(f"{who}: {k} is missing")
    if problems:
        return None, problems
    cur = inv["currency"]
    e = _exponent(cur)
    entity = inv["billing_entity_code"]
    ent = m.billing_entities.get(entity)
    cur_id = (ent.currencies.get(cur) if ent else None) or m.organization.currencies.get(cur)
    sub_id = m.subsidiaries.get(entity)
    if not cur_id:
        problems.append(f"{who}: currency {cur} has no NetSuite currency mapping")
    if not sub_id:
        problems.append(f"{who}: billing entity {entity!r} has no NetSuite subsidiary mapping")
    fees = inv.get("fees")
    if not isinstance(fees, list):
        return None, problems + [f"{who}: fees is missing"]
    for i, f in enumerate(fees):
        for k in _FEE_INT:
            if not _int(f.get(k)):
                problems.append(f"{who}: fees[{i}].{k} is not an integer")
        for k in ("units", "precise_unit_amount"):
            try:
                Decimal(str(f.get(k)))
            except ArithmeticError:
                problems.append(f"{who}: fees[{i}].{k} is not a decimal number")
    if problems:
        return None, problems
    fees_total = sum((Decimal(f["amount_cents"]) for f in fees), Decimal(0))
    sub = Decimal(inv["fees_amount_cents"]) - Decimal(inv.get("progressive_billing_credit_amount_cents") or 0) \
        - Decimal(inv["coupons_amount_cents"])
    applied = {t["tax_code"]: (Decimal(str(t["tax_rate"])), t["amount_cents"]) for t in inv.get("applied_taxes") or []}
    applied_sum = sum((Decimal(a) for _, a in applied.values()), Decimal(0))
    if fees_total != inv["fees_amount_cents"] or sub != inv["sub_total_excluding_taxes_amount_cents"]:
        problems.append(f"{who}: sub total does not add up")
    if abs(applied_sum - inv["taxes_amount_cents"]) > len(applied) // 2:
        problems.append(f"{who}: taxes do not add up")
    if Decimal(inv["total_amount_cents"]) != sub + inv["taxes_amount_cents"] - inv["credit_notes_amount_cents"] \
            - inv["prepaid_credit_amount_cents"]:
        problems.append(f"{who}: total does not add up")
    credits: dict[str, list[str]] = {}
    for c in inv.get("credits") or []:
        it = c.get("item") or {}
        credits.setdefault(it.get("type"), []).append(it.get("code") if it.get("type") == "credit_note"
                                                       else it.get("name") or it.get("code"))
    chosen = [f for f in fees if f["amount_cents"] > 0] or fees
    lines, rows = [], []
    for f in chosen:
        it = f["item"]
        table, fixed = _FEE_KEYS[it["type"]]
        ref, fallback = _item(m, entity, table, fixed or it["code"])
        if ref is None:
            problems.append(f"{who}: fee {f['lago_id']} has no NetSuite item mapping")
            continue
        if fallback:
            out["warnings"].append((inv["lago_id"], f"{who}: fee {f['lago_id']} used fallback item {ref.item}"))
        qty, rate = _trim(f["units"]), _trim(f["precise_unit_amount"])
        amount = Decimal(f["amount_cents"]).scaleb(-e)
        if qty is None or rate is None:
            problems.append(f"{who}: fee {f['lago_id']} cannot be written in 15 characters")
            continue
        if len(qty.lstrip("-").split(".")[0]) >= 11:
            qty, rate = "1", format(amount, "f")
        name, start, end = _described(f)
        line = {"item": ref.item, "account": ref.account, "quantity": json_number(Decimal(qty)),
                "rate": json_number(Decimal(rate)), "amount": json_number(amount), "description": name,
                "taxdetailsreference": f["lago_id"], "custcol_lago_line_id": f["lago_id"],
                "custcol_service_period_date_from": _date(start), "custcol_service_period_date_to": _date(end)}
        lines.append({k: v for k, v in line.items() if v is not None})
        rate_total = Decimal(str(f["taxes_rate"]))
        basis = f.get("sub_total_excluding_taxes_amount_cents", f["amount_cents"])
        if rate_total or f["taxes_amount_cents"]:
            codes = [c for n in range(1, len(applied) + 1) for c in combinations(applied, n)
                     if sum(applied[x][0] for x in c) == rate_total]
            if len(codes) != 1:
                problems.append(f"{who}: fee {f['lago_id']} tax rate {rate_total}% matches no combination")
                continue
            tax = Decimal(f["taxes_amount_cents"])
            left = tax
            for i, c in enumerate(codes[0]):
                share = left if i == len(codes[0]) - 1 else Decimal(_rhu(tax * applied[c][0] / rate_total))
                left -= share
                rows.append([f["lago_id"], c, share, basis, applied[c][0]])
        else:
            rows.append([f["lago_id"], "", Decimal(0), basis, Decimal(0)])
    for code, (_rate, target) in applied.items():  # per-code residual to the code's largest row
        mine = [r for r in rows if r[1] == code]
        if mine:
            biggest = max(mine, key=lambda r: abs(r[2]))
            biggest[2] += target - sum((r[2] for r in mine), Decimal(0))
    taxed = [r for r in rows if r[1]]
    if taxed:  # document residual to its largest row
        biggest = max(taxed, key=lambda r: abs(r[2]))
        biggest[2] += inv["taxes_amount_cents"] - sum((r[2] for r in taxed), Decimal(0))
    for kind, col, default, ref_name, ctype in (
            ("Coupons", "coupons_amount_cents", "coupon", "coupons", "coupon"),
            ("Prepaid credits", "prepaid_credit_amount_cents", "prepaid_credit", "prepaid_credits", None),
            ("Progressive billing credits", "progressive_billing_credit_amount_cents", "prepaid_credit",
             "progressive_billing_credits", "invoice"),
            ("Credit notes", "credit_notes_amount_cents", "credit_note", "credit_note_credits", "credit_note")):
        if (inv.get(col) or 0) > 0:
            ref, fallback = _item(m, entity, "defaults", default)
            if ref is None:
                problems.append(f"{who}: {kind} line has no NetSuite item mapping")
                continue
            amount = json_number(-Decimal(inv[col]).scaleb(-e))
            held = credits.get(ctype) if ctype else None
            lines.append({"item": ref.item, "account": ref.account, "quantity": 1, "rate": amount, "amount": amount,
                          "description": f"{kind}: {', '.join(held)}" if held else kind,
                          "taxdetailsreference": ref_name})
            rows.append([ref_name, "", Decimal(0), 0, Decimal(0)])
    taxdetails = []
    nexus = None
    for ref_name, code, amount, basis, rate in rows:
        t = _tax(m, entity, code)
        if t is None or not (t.nexus and t.tax_type and t.tax_code):
            problems.append(f"{who}: tax {code!r} has no complete SuiteTax mapping")
            continue
        if code and nexus and t.nexus != nexus:
            problems.append(f"{who}: its taxes map to different NetSuite nexuses")
        nexus = nexus or (t.nexus if code else None)
        taxdetails.append({"taxdetailsreference": ref_name, "taxtype": t.tax_type, "taxcode": t.tax_code,
                           "taxbasis": json_number(Decimal(basis).scaleb(-e)), "taxrate": json_number(rate),
                           "taxamount": json_number(amount.scaleb(-e))})
    cust = inv.get("customer") or {}
    link = next((c["external_customer_id"] for c in cust.get("integration_customers") or []
                 if c.get("type") == "netsuite" and c.get("external_customer_id")), None)
    if link is None and not cust.get("lago_id"):
        problems.append(f"{who}: customer.lago_id is missing")
    default_tax = _tax(m, entity, "")
    body = {"externalId": f"lago-invoice-{inv['lago_id']}", "action": "create", "type": "invoice",
            "isDynamic": False, "columns": {
                "tranid": inv["number"], "entity": link or {"$ref": f"lago-customer-{cust.get('lago_id')}"},
                "trandate": _date(inv["issuing_date"]), "duedate": _date(inv.get("payment_due_date")),
                "currency": cur_id, "subsidiary": sub_id, "custbody_lago_id": inv["lago_id"],
                "custbody_lago_invoice_link": s.lago_web_url.format(invoice_lago_id=inv["lago_id"],
                                                                    customer_lago_id=cust.get("lago_id"),
                                                                    number=inv["number"],
                                                                    billing_entity_code=entity),
                "nexus": nexus or (default_tax.nexus if default_tax else None), "taxdetailsoverride": True,
                "taxregoverride": True},
            "lines": [{"sublistId": "item", "lineItems": lines}],
            "taxdetails": [{"sublistId": "taxdetails", "lineItems": taxdetails}],
            "options": {"ignoreMandatoryFields": False}}
    return body, problems + _loop_validate(body, inv["total_amount_cents"], e)


def _loop_validate(body: dict[str, Any], total: int, e: int) -> list[str]:
    """The gate's checks, per document: required fields, precision, 15 characters, invariant."""
    problems = []
    cols = body["columns"]
    for field in ("tranid", "entity", "currency", "subsidiary", "trandate"):
        if not cols.get(field):
            problems.append(f"{field} missing")
    lines = body["lines"][0]["lineItems"]
    amounts = [Decimal(repr(li["amount"])) for li in lines]
    taxes = [Decimal(repr(t["taxamount"])) for t in body.get("taxdetails", [{"lineItems": []}])[0]["lineItems"]]
    if any(a.as_tuple().exponent < -e for a in amounts + taxes):
        problems.append("precision")
    if any(len(repr(li["rate"])) > 16 or len(repr(li["quantity"])) > 16 for li in lines):
        problems.append("15 characters")
    if sum(amounts) + sum(taxes) != Decimal(total).scaleb(-e):
        problems.append("totals do not match")
    return problems


def _loop_credit_note(cn: dict[str, Any], m: Any, links: dict[str, str]) -> tuple[dict[str, Any] | None,
                                                                                  list[str]]:
    who = f"credit note {cn.get('number')}"
    for k in ("total_amount_cents", "taxes_amount_cents", "sub_total_excluding_taxes_amount_cents"):
        if not _int(cn.get(k)):
            return None, [f"{who}: {k} is not an integer"]
    e = _exponent(cn["currency"])
    entity = cn["billing_entity_code"]
    problems = []
    applied = {t["tax_code"]: (Decimal(str(t["tax_rate"])), t["amount_cents"], t["base_amount_cents"])
               for t in cn.get("applied_taxes") or []}
    items_total = sum((Decimal(i["amount_cents"]) for i in cn["items"]), Decimal(0))
    adj = items_total - cn["sub_total_excluding_taxes_amount_cents"]
    if abs(adj - cn["coupons_adjustment_amount_cents"]) > 1 or \
            cn["total_amount_cents"] != cn["sub_total_excluding_taxes_amount_cents"] + cn["taxes_amount_cents"]:
        problems.append(f"{who}: totals do not add up")
    items = [i for i in cn["items"] if i["amount_cents"] > 0] or cn["items"]
    lines, rows = [], []
    for i in items:
        f = i["fee"]
        it = f["item"]
        table, fixed = _FEE_KEYS[it["type"]]
        ref, _fb = _item(m, entity, table, fixed or it["code"])
        if ref is None:
            problems.append(f"{who}: item {i['lago_id']} has no NetSuite item mapping")
            continue
        amount = json_number(Decimal(i["amount_cents"]).scaleb(-e))
        name, start, end = _described(f)
        line = {"item": ref.item, "account": ref.account, "quantity": 1, "rate": amount, "amount": amount,
                "description": name, "taxdetailsreference": i["lago_id"],
                "custcol_lago_line_id": i["lago_id"], "custcol_service_period_date_from": _date(start),
                "custcol_service_period_date_to": _date(end)}
        lines.append({k: v for k, v in line.items() if v is not None})
        rate_total = Decimal(str(f["taxes_rate"]))
        codes = [c for n in range(1, len(applied) + 1) for c in combinations(applied, n)
                 if sum(applied[x][0] for x in c) == rate_total] if rate_total else [()]
        if len(codes) != 1:
            problems.append(f"{who}: item {i['lago_id']} tax rate matches no combination")
            continue
        rows += [[i["lago_id"], c, i["amount_cents"]] for c in codes[0]] or [[i["lago_id"], "", i["amount_cents"]]]
    tax_rows = []
    for code, (rate, target, base) in applied.items():  # each code's amount spread by item amount
        mine = [r for r in rows if r[1] == code]
        weight = sum(r[2] for r in mine)
        amounts = [_rhu(Decimal(target) * r[2] / weight) if weight else 0 for r in mine]
        bases = [_rhu(Decimal(base) * r[2] / weight) if weight else 0 for r in mine]
        if mine:
            top = max(range(len(mine)), key=lambda k: (abs(amounts[k]), -k))
            amounts[top] += target - sum(amounts)
            bases[max(range(len(mine)), key=lambda k: (abs(bases[k]), -k))] += base - sum(bases)
        tax_rows += [[r[0], code, a, b, rate] for r, a, b in zip(mine, amounts, bases, strict=True)]
    if tax_rows:
        top = max(tax_rows, key=lambda r: abs(r[2]))
        top[2] += cn["taxes_amount_cents"] - sum(r[2] for r in tax_rows)
    tax_rows += [[r[0], "", 0, r[2], Decimal(0)] for r in rows if not r[1]]
    if adj:
        ref, _fb = _item(m, entity, "defaults", "coupon")
        amount = json_number(-adj.scaleb(-e))
        lines.append({"item": ref.item, "account": ref.account, "quantity": 1, "rate": amount, "amount": amount,
                      "description": "Coupon adjustment", "taxdetailsreference": "coupons"})
        tax_rows.append(["coupons", "", 0, 0, Decimal(0)])
    taxdetails, nexus = [], None
    for r, c, a, b, rate in tax_rows:
        t = _tax(m, entity, c)
        nexus = nexus or (t.nexus if c else None)
        taxdetails.append({"taxdetailsreference": r, "taxtype": t.tax_type, "taxcode": t.tax_code,
                           "taxbasis": json_number(Decimal(b).scaleb(-e)), "taxrate": json_number(rate),
                           "taxamount": json_number(Decimal(a).scaleb(-e))})
    cust = cn.get("customer") or {}
    body = {"externalId": f"lago-creditnote-{cn['lago_id']}", "action": "create", "type": "creditmemo",
            "isDynamic": False,
            "columns": {"tranid": cn["number"],
                        "entity": links.get(cust.get("lago_id")) or {"$ref": f"lago-customer-{cust.get('lago_id')}"},
                        "trandate": _date(cn["issuing_date"]),
                        "currency": m.organization.currencies.get(cn["currency"]),
                        "subsidiary": m.subsidiaries.get(entity), "custbody_lago_id": cn["lago_id"],
                        "nexus": nexus or _tax(m, entity, "").nexus, "taxdetailsoverride": True,
                        "taxregoverride": True},
            "lines": [{"sublistId": "item", "lineItems": lines}],
            "taxdetails": [{"sublistId": "taxdetails", "lineItems": taxdetails}],
            "options": {"ignoreMandatoryFields": False}}
    if (cn.get("offset_amount_cents") or 0) > 0:
        body["lines"].append({"sublistId": "apply", "lineItems": [{
            "doc": {"$ref": f"lago-invoice-{cn['lago_invoice_id']}", "optional": True}, "apply": True,
            "amount": json_number(Decimal(cn["offset_amount_cents"]).scaleb(-e))}]})
    return body, problems + _loop_validate(body, cn["total_amount_cents"], e)


def _loop_customer(c: dict[str, Any], m: Any, out: dict[str, list[Any]]) -> tuple[dict[str, Any] | None, list[str]]:
    who = f"customer {c.get('external_id')}"
    links = [x for x in c.get("integration_customers") or [] if x.get("type") == "netsuite"
             and x.get("external_customer_id")]
    if links:
        out["skipped"].append((c["lago_id"], "already linked to NetSuite"))
        return None, []
    problems = []
    person = c.get("customer_type") == "individual"
    company = c.get("name") or c.get("legal_name")
    if not c.get("external_id"):
        problems.append(f"{who}: external_id is missing")
    if not person and not company:
        problems.append(f"{who}: has no name")
    sub = m.subsidiaries.get(c.get("billing_entity_code"))
    if not sub:
        problems.append(f"{who}: billing entity has no NetSuite subsidiary mapping")
    cur = c.get("currency")
    cur_id = m.organization.currencies.get(cur) if cur else None
    if cur and not cur_id:
        problems.append(f"{who}: currency {cur} has no NetSuite currency mapping")
    cols = {"entityid": c.get("external_id"), "isperson": "T" if person else "F", "email": c.get("email"),
            "phone": c.get("phone"), "subsidiary": sub, "currency": cur_id, "custentity_lago_id": c["lago_id"]}
    if person:
        cols.update(firstname=c.get("firstname"), lastname=c.get("lastname") or c.get("name"))
    else:
        cols["companyname"] = company
    if cols.get("email") and "@" not in cols["email"]:
        problems.append(f"{who}: email is malformed")
    body = {"externalId": f"lago-customer-{c['lago_id']}", "action": "create", "type": "customer",
            "isDynamic": False, "columns": {k: v for k, v in cols.items() if v is not None}, "lines": [],
            "options": {"ignoreMandatoryFields": False}}
    return body, problems


def _loop_payment(p: dict[str, Any], m: Any, links: dict[str, str], out: dict[str, list[Any]]) -> tuple[
        dict[str, Any] | None, list[str]]:
    if p.get("payment_status") != "succeeded":
        out["skipped"].append((p.get("lago_id"), "not succeeded"))
        return None, []
    who = f"payment {p.get('lago_id')}"
    problems = []
    ids = p.get("invoice_ids") or []
    if len(ids) != 1:
        problems.append(f"{who}: covers {len(ids)} invoices")
    if not _int(p.get("amount_cents")) or p["amount_cents"] < 0:
        return None, [f"{who}: amount_cents is not a positive integer"]
    e = _exponent(p["amount_currency"])
    cur_id = m.organization.currencies.get(p["amount_currency"])
    if not cur_id:
        problems.append(f"{who}: currency has no NetSuite currency mapping")
    amount = json_number(Decimal(p["amount_cents"]).scaleb(-e))
    customer = links.get(p.get("lago_customer_id")) or {"$ref": f"lago-customer-{p.get('lago_customer_id')}"}
    body = {"externalId": f"lago-payment-{p['lago_id']}", "action": "create", "type": "customerpayment",
            "isDynamic": False,
            "columns": {"customer": customer, "payment": amount, "trandate": _date(p["created_at"]),
                        "currency": cur_id, "custbody_lago_id": p["lago_id"],
                        "memo": f"Lago payment {p.get('reference') or p['lago_id']}"},
            "lines": [{"sublistId": "apply", "lineItems": [
                {"doc": {"$ref": f"lago-invoice-{ids[0] if ids else None}"}, "apply": True, "amount": amount}]}],
            "options": {"ignoreMandatoryFields": False}}
    if Decimal(repr(amount)) != Decimal(p["amount_cents"]).scaleb(-e):
        problems.append(f"{who}: payment does not match Lago")
    return body, problems


def loop_transform(*, invoices: list[dict[str, Any]], credit_notes: list[dict[str, Any]],
                   payments: list[dict[str, Any]], customers: list[dict[str, Any]], mappings: Any,
                   settings: Any) -> tuple[list[dict[str, Any]], list[tuple[str, list[str]]]]:
    """Every document, one at a time: records, quarantine (with reasons), warnings, skips."""
    records: list[dict[str, Any]] = []
    quarantined: list[tuple[str, list[str]]] = []
    out: dict[str, list[Any]] = {"warnings": [], "skipped": []}
    seen: set[str] = set()

    def keep(body: dict[str, Any] | None, problems: list[str]) -> None:
        if body is None:
            if problems:
                quarantined.append(("?", problems))
            return
        if body["externalId"] in seen:
            problems = [*problems, "duplicate externalId"]
        seen.add(body["externalId"])
        if problems:
            quarantined.append((body["externalId"], problems))
        else:
            records.append(body)

    links: dict[str, str] = {}
    for doc in (*customers, *invoices, *credit_notes):
        cust = doc.get("customer", doc) if doc.get("customer") is not None else doc
        for x in cust.get("integration_customers") or []:
            if x.get("type") == "netsuite" and x.get("external_customer_id"):
                links[cust["lago_id"]] = x["external_customer_id"]
    for c in customers:
        keep(*_loop_customer(c, mappings, out))
    for inv in invoices:
        keep(*_loop_invoice(inv, mappings, settings, out))
    for cn in credit_notes:
        keep(*_loop_credit_note(cn, mappings, links))
    for p in payments:
        keep(*_loop_payment(p, mappings, links, out))
    return records, quarantined

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--run", choices=["vectorised", "loop"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args.invoices, args.chunk, args.seed)))
        return
    figures = {}
    for mode in ("vectorised", "loop"):
        out = subprocess.run([sys.executable, __file__, "--run", mode, "--invoices", str(args.invoices),
                              "--chunk", str(args.chunk), "--seed", str(args.seed)],
                             check=True, capture_output=True, text=True)
        figures[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    v, lp = figures["vectorised"], figures["loop"]
    print(f"dataset: {args.invoices:,} invoices ({v['fees']:,} fees) + credit notes, payments, customers = "
          f"{v['documents']:,} documents, in chunks of {args.chunk:,}; records {v['records']:,} "
          f"(loop {lp['records']:,}), quarantined {v['quarantined']:,} (loop {lp['quarantined']:,})")
    for f, label in ((v, "vectorised transform + GX gate"), (lp, "per-document loop")):
        print(f"{label}: wall time {f['seconds']:.1f} s (CPU {f['cpu_seconds']:.1f} s)")
        print(f"{label}: documents/s {f['documents'] / f['seconds']:,.0f} "
              f"(invoices/s {args.invoices / f['seconds']:,.0f})")
        print(f"{label}: peak memory (RSS high-water) {f['peak_rss_mb']:,.0f} MB")
    print(f"ratio loop time / vectorised time: {lp['seconds'] / v['seconds']:.2f}x wall, "
          f"{lp['cpu_seconds'] / v['cpu_seconds']:.2f}x CPU "
          f"(one-off Great Expectations import {v['imports']:.1f} s not included)")
    print(f"Data Docs of the vectorised run: {v['data_docs']}/index.html")


if __name__ == "__main__":
    main()
