"""Credit-note credit as NetSuite books it: memo applications, customer refunds, voided memos.

With the mapping option ``credit_notes: apply`` (the default):

- every ``credits`` entry of type ``credit_note`` on an invoice (Lago consuming a credit note's
  balance) becomes its own record ``lago-creditapply-<credit lago_id>``: the credit memo
  ``lago-creditnote-<credit note lago_id>`` applied to that invoice for that amount (contract 2,
  ``action: "apply"``). The invoice then carries no negative line for it: its NetSuite total is
  Lago's total plus those credits, and its amount due after the applications is Lago's total;
- a credit note that can never be in NetSuite (issued before ``sync_start_date``) is the one
  exception: its credit stays a negative credit-note line on the consuming invoice, with a warning
  naming it, so the amount due still equals Lago's;
- a credit note's succeeded refund becomes a ``customerrefund`` ``lago-refund-<credit note
  lago_id>`` applied to the memo; a pending one waits (skipped until Lago says it succeeded); a
  failed one is skipped with the reason.

With ``credit_notes: lago_lines`` invoices keep the negative credit-note line (Lago's own bundle)
and no application is made; refunds are booked either way.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd

from lago_netsuite.money import json_number, to_major
from lago_netsuite.transform import documents as docs
from lago_netsuite.transform.frames import ints, of_type
from lago_netsuite.transform.model import RECORD_COLUMNS, SKIP_COLUMNS, TransformSettings

#: ``$requires`` in a body lists records that must be in NetSuite before it is sent; the loader
#: checks them like ``{"$ref"}`` placeholders and strips the key (it is not part of the contract).
REQUIRES = "$requires"  # the same key as lago_netsuite.load.refs.REQUIRES


def application_ext(credit_lago_id: str) -> str:
    return f"lago-creditapply-{credit_lago_id}"


def split_credit_note_credits(h: pd.DataFrame, credits: pd.DataFrame, settings: TransformSettings,
                              line_booked: Collection[str], issues: docs.Issues) -> pd.DataFrame:
    """Split each invoice's credit-note credits into applications and (the rest) a negative line.

    Sets ``cn_line_minor`` (booked as a credit-note line) and ``cn_applied_minor`` (booked as memo
    applications) on ``h``, and returns one row per application: ``key``, ``credit_id``,
    ``note_id``, ``code`` and ``amount_minor``.
    """
    cols = ["key", "credit_id", "note_id", "code", "amount_minor"]
    total = h["credit_notes_amount_cents"].astype("int64")
    apply_mode = settings.credit_notes == "apply" and settings.invoice_record_type == "invoice"
    cr = credits[credits["key"].isin(h["key"]) & (credits["item_type"] == "credit_note")]
    if not apply_mode or cr.empty:
        h["cn_line_minor"], h["cn_applied_minor"] = total, 0
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    note = cr["item_lago_item_id"].where(of_type(cr["item_lago_item_id"], str), None)
    credit_id = cr["lago_id"].where(of_type(cr["lago_id"], str), None)
    amount = ints(cr["amount_cents"])
    booked = set(line_booked)
    as_line = note.isna() | credit_id.isna() | note.isin(booked) | (amount <= 0)
    apps = pd.DataFrame({"key": cr["key"], "credit_id": credit_id, "note_id": note,
                         "code": cr["item_code"].where(of_type(cr["item_code"], str), note),
                         "amount_minor": amount})[~as_line.to_numpy()]
    # Only invoices whose credit rows add up to credit_notes_amount_cents (else the arithmetic
    # check holds the invoice back) and that list their credits at all get applications.
    applied = apps.groupby("key")["amount_minor"].sum()
    h["cn_applied_minor"] = h["key"].map(applied).fillna(0).astype("int64")
    no_rows = ~h["has_credits"].astype(bool)
    h.loc[no_rows, "cn_applied_minor"] = 0
    h["cn_line_minor"] = total - h["cn_applied_minor"]
    who = h.set_index("key")["who"]
    lined = cr[as_line.to_numpy() & note.notna().to_numpy() & note.isin(booked).to_numpy()]
    issues.warn(pd.DataFrame({"key": lined["key"], "message": lined["key"].map(who) + ": credit note "
                              + lined["item_code"].astype(str) + " (" + lined["item_lago_item_id"].astype(str)
                              + ") was issued before the sync start date and is not in NetSuite, so its credit of "
                              + lined["amount_cents"].astype(str) + " (minor units) is booked as a negative "
                              "credit-note line on this invoice instead of a credit memo application"}))
    return apps[apps["key"].isin(h.loc[~no_rows, "key"])].reset_index(drop=True)


def application_records(apps: pd.DataFrame, h: pd.DataFrame) -> pd.DataFrame:
    """``action: "apply"`` records of the applications of invoices that passed the transform."""
    if apps.empty or "external_id" not in h:
        return _frame([])
    head = h.set_index("external_id")
    rows: list[dict[str, Any]] = []
    for key, credit_id, note_id, code, amount in apps[["key", "credit_id", "note_id", "code",
                                                       "amount_minor"]].itertuples(index=False):
        if key not in head.index:
            continue
        inv = head.loc[key]
        memo = f"lago-creditnote-{note_id}"
        ext = application_ext(credit_id)
        body = {"externalId": ext, "action": "apply", "type": "creditmemo", "memoExternalId": memo,
                REQUIRES: [memo],
                "lines": [{"sublistId": "apply", "lineItems": [
                    {"doc": {"$ref": key}, "apply": True,
                     "amount": json_number(to_major(int(amount), str(inv["currency"])))}]}]}
        rows.append({"external_id": ext, "kind": "creditapply", "record_type": "creditmemo", "action": "apply",
                     "lago_id": credit_id, "number": f"{code} on {inv['number']}", "currency": inv["currency"],
                     "exponent": int(inv["exponent"]), "total_minor": int(amount), "body": body,
                     "depends_on": [memo, key]})
    return _frame(rows)


def refund_records(h: pd.DataFrame, settings: TransformSettings,
                   refund_accounts: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``customerrefund`` records of the credit notes' succeeded refunds (pending/failed skipped).

    ``h`` is the credit notes' header frame after the transform (``external_id`` = the memo);
    ``refund_accounts`` maps a billing entity code to the bank account refunds are paid from.
    Returns the records and the skipped refunds (``SKIP_COLUMNS``) with their reason.
    """
    refund = ints(h["refund_amount_cents"]) if "refund_amount_cents" in h else pd.Series(0, index=h.index)
    status = h["refund_status"] if "refund_status" in h else pd.Series(None, index=h.index, dtype=object)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for i in h.index[(refund > 0).to_numpy()]:
        r = h.loc[i]
        memo, lago_id = str(r["external_id"]), str(r["lago_id"])
        ext = f"lago-refund-{lago_id}"
        st = status.loc[i]
        if st != "succeeded":
            why = ("pending: it is booked once Lago says it succeeded" if st in ("pending", None)
                   else f"{st}: Lago paid nothing out, so nothing is booked")
            skipped.append({"external_id": ext, "kind": "refund", "lago_id": lago_id,
                                         "number": r["number"], "reason": f"refund of credit note {r['number']} "
                                         f"is {why}"})
            continue
        amount = int(refund.loc[i])
        currency = str(r["currency"])
        customer = r["entity_id"] if isinstance(r["entity_id"], str) else {"$ref": r["entity_ref"]}
        cols: dict[str, Any] = {"customer": customer, "trandate": r["trandate"], "currency": r["currency_id"],
                                "custbody_lago_id": lago_id, "memo": f"Lago refund of credit note {r['number']}"}
        account = refund_accounts.get(r["billing_entity_code"])
        if isinstance(account, str):
            cols["account"] = account
        body = {"externalId": ext, "action": "create", "type": "customerrefund", "isDynamic": settings.is_dynamic,
                "columns": cols, "lines": [{"sublistId": "apply", "lineItems": [
                    {"doc": {"$ref": memo}, "apply": True, "amount": json_number(to_major(amount, currency))}]}],
                "options": {"ignoreMandatoryFields": settings.ignore_mandatory_fields}}
        deps = [d for d in (r["entity_ref"], memo) if isinstance(d, str)]
        rows.append({"external_id": ext, "kind": "refund", "record_type": "customerrefund", "action": "create",
                     "lago_id": lago_id, "number": r["number"], "currency": currency, "exponent": int(r["exponent"]),
                     "total_minor": amount, "body": body, "depends_on": deps})
    return _frame(rows), pd.DataFrame(skipped, columns=SKIP_COLUMNS, dtype=object)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    out = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    out["exponent"] = out["exponent"].astype("Int64")
    out["total_minor"] = out["total_minor"].astype("Int64")
    return out
