"""Lago customers -> NetSuite ``customer`` frames.

A customer already linked to NetSuite in Lago (``integration_customers[type=netsuite]``) is not
created again: documents use the linked id literally, so it is skipped with that reason.
"""

from __future__ import annotations

import pandas as pd

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
    c["email"] = _text(c["email"])
    c["phone"] = _text(c["phone"])
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
