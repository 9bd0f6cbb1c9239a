"""Lago customers -> NetSuite ``customer`` frames.

A customer already linked to NetSuite in Lago (``integration_customers[type=netsuite]``) is not
created again: documents use the linked id literally, so it is skipped with that reason.

Only what NetSuite needs to create the customer holds it back (the entity id within NetSuite's 83
characters, a name, the subsidiary, a mapped currency); a company or last name longer than NetSuite
keeps is cut to fit, with a warning. An optional value NetSuite would refuse — an e-mail address or
a phone it does not accept, a first name too long — is left out of the record with a warning
naming the field and the value (see ``lago_netsuite.netsuite_fields``). Several
comma-separated addresses in Lago's ``email`` give NetSuite's ``email`` the first usable one and
``altemail`` the second; any further ones are named in the warning, which the ledger keeps.

Lago customer fields not sent: the billing and shipping address (a NetSuite address is a subrecord
of the ``addressbook`` sublist, which the RESTlet contract does not carry), ``url``, ``legal_number``,
``tax_identification_number``, ``timezone``, ``net_payment_term``, ``metadata`` and the payment
provider settings; the accountant keeps them in Lago.
"""

from __future__ import annotations

import pandas as pd

from lago_netsuite import netsuite_fields as nsf
from lago_netsuite.transform import documents as docs
from lago_netsuite.transform import resolve
from lago_netsuite.transform.frames import LagoFrames, column_problems, of_type, strings
from lago_netsuite.transform.mappings import Mappings

SPEC = {"customer_external_id": "str", "billing_entity_code": "str", "currency": "currency?", "name": "str?",
        "firstname": "str?", "lastname": "str?", "legal_name": "str?", "email": "str?", "phone": "str?",
        "customer_type": "str?"}


def _text(s: pd.Series) -> pd.Series:
    """Stripped non-empty strings, else None."""
    t = s.where(of_type(s, str), None)
    t = t.str.strip()
    return t.where(t.notna() & (t != ""), None).astype(object)


def transform_customers(fr: LagoFrames, mappings: Mappings) -> docs.KindOutput:
    """Customers not yet linked to NetSuite -> customer header frame (companies or persons)."""
    issues = docs.Issues("customer")
    c = fr.customers.drop_duplicates("lago_id", keep="last").rename(columns={"external_id": "customer_external_id"})
    c["key"] = "lago-customer-" + c["lago_id"]
    c["number"] = c["customer_external_id"].where(of_type(c["customer_external_id"], str), None)
    c["who"] = "customer " + c["number"].where(c["number"].notna(), c["lago_id"]).astype(str)
    ident = c[["key", "lago_id", "number"]].assign(external_id=c["key"])
    linked = c["ns_id"].notna()
    issues.skip(linked, c["key"], "already linked to NetSuite customer " + c["ns_id"].astype(str)
                + " (integration_customers); documents use that id")
    c = c[~linked].copy()
    k, who = c["key"], c["who"]
    issues.reason(column_problems(c, SPEC, names=c.set_index("key")["who"]))
    for col in ("billing_entity_code", "currency", "customer_type", "number"):
        c[col] = strings(c[col])
    person = c["customer_type"] == "individual"
    first, last = _text(c["firstname"]), _text(c["lastname"])
    name = _text(c["name"])
    company = name.where(name.notna(), _text(c["legal_name"]))
    full = (first.fillna("") + " " + last.fillna("")).str.strip()
    company = company.where(company.notna(), full.where(full != "", None))
    c["isperson"] = person.map({True: "T", False: "F"})
    c["companyname"] = company.where(~person, None)
    # A person needs a last name in NetSuite; Lago may only have the display name.
    c["firstname"] = first.where(person, None)
    c["lastname"] = last.where(last.notna(), name).where(person, None)
    issues.where(~person & c["companyname"].isna(), k, who + ": has no name, legal_name or first/last name")
    issues.where(person & c["lastname"].isna(), k, who + ": is an individual with no last name or name")
    c["entityid"] = c["number"]
    long_id = c["entityid"].map(lambda v: isinstance(v, str) and nsf.length_problem("entityid", v) is not None)
    issues.where(long_id, k, who + ": entityid (the Lago external_id) is longer than NetSuite's "
                 f"{nsf.ENTITYID_MAX} characters (NetSuite needs it, whole, to create the customer)")
    cut_notes: list[tuple[str, str]] = []
    for field in ("companyname", "lastname"):  # a name is needed, not all of it: cut to fit, with a warning
        cut = [nsf.cut_to_fit(field, v) for v in c[field].tolist()]
        cut_notes += [(key, f"{w}: field {field}: value {_shown(v)} cut to NetSuite's {nsf.MAX_LENGTH[field]} "
                            f"characters: {new!r}")
                      for key, w, v, new in zip(k.tolist(), who.tolist(), c[field].tolist(), cut, strict=True)
                      if isinstance(v, str) and new != v]
        c[field] = cut
    if cut_notes:
        issues.warn(pd.DataFrame(cut_notes, columns=["key", "message"]))
    contact = [_contact_fields(w, e, p, f) for w, e, p, f in zip(
        who.tolist(), _text(c["email"]).tolist(), _text(c["phone"]).tolist(), c["firstname"].tolist(), strict=True)]
    c["email"] = [x[0] for x in contact]
    c["altemail"] = [x[1] for x in contact]
    c["phone"] = [x[2] for x in contact]
    c["firstname"] = [x[3] for x in contact]
    notes = [(key, note) for key, x in zip(k.tolist(), contact, strict=True) for note in x[4]]
    if notes:
        issues.warn(pd.DataFrame(notes, columns=["key", "message"]))
    c["subsidiary"] = resolve.resolve_subsidiary(c["billing_entity_code"], mappings)
    issues.where(c["subsidiary"].isna(), k, who + ": billing entity " + c["billing_entity_code"].astype(str).map(repr)
                 + " has no NetSuite subsidiary mapping")
    has_cur = c["currency"].notna()
    c["currency_id"] = resolve.resolve_currency(c, mappings).where(has_cur, None)
    issues.where(has_cur & c["currency_id"].isna(), k, who + ": currency " + c["currency"].astype(str)
                 + " has no NetSuite currency mapping")
    issues.warn(pd.DataFrame({"key": k[~has_cur], "message": who[~has_cur] + ": has no currency in Lago; "
                              "NetSuite will use the subsidiary's base currency"}))
    quarantined, warnings, skipped = issues.frames(ident)
    bad = set(quarantined["external_id"])
    h = c[~c["key"].isin(bad)].rename(columns={"key": "external_id"}).reset_index(drop=True)
    warnings = warnings[~warnings["external_id"].isin(bad)].reset_index(drop=True)
    return docs.KindOutput(headers=h, quarantined=quarantined, warnings=warnings, skipped=skipped)


def _contact_fields(who: str, email: str | None, phone: str | None, firstname: str | None
                    ) -> tuple[str | None, str | None, str | None, str | None, list[str]]:
    """``(email, altemail, phone, firstname, warnings)``: what NetSuite accepts, and what was left out."""
    notes: list[str] = []
    addresses = nsf.split_emails(email)
    usable: list[str] = []
    for address in addresses:
        problem = nsf.email_problem(address)
        if problem:
            notes.append(f"{who}: field email: address {_shown(address)} left out of NetSuite ({problem})")
        else:
            usable.append(address)
    if len(addresses) > 1 and usable:
        kept = f"email = {usable[0]!r}" + (f", altemail = {usable[1]!r}" if len(usable) > 1 else "")
        rest = usable[2:]
        notes.append(f"{who}: field email: Lago holds {len(addresses)} addresses {email!r}; NetSuite gets {kept}"
                     + (f"; not in NetSuite (kept here): {', '.join(map(repr, rest))}" if rest else ""))
    if phone is not None and (problem := nsf.phone_problem(phone)):
        notes.append(f"{who}: field phone: value {_shown(phone)} left out of NetSuite ({problem})")
        phone = None
    if isinstance(firstname, str) and (problem := nsf.length_problem("firstname", firstname)):
        notes.append(f"{who}: field firstname: value {_shown(firstname)} left out of NetSuite ({problem})")
        firstname = None
    return (usable[0] if usable else None, usable[1] if len(usable) > 1 else None, phone, firstname, notes)


def _shown(value: str, limit: int = 300) -> str:
    """A Lago value quoted in a warning (very long ones shortened: the document keeps them whole)."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"… ({len(value)} characters)"
