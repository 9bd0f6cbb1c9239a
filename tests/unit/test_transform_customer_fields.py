"""Customer fields against NetSuite's limits: optional values NetSuite refuses are left out with a
warning naming the field and the value; only what NetSuite needs to create the customer holds it back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_transform_lago_factory import customer, run

LONG_EMAIL = "a" * 245 + "@x.example"  # 255 characters


def columns_and_warnings(**fields: Any) -> tuple[dict[str, Any], list[str]]:
    c = customer(5, "acme_us", person=fields.pop("person", False))
    c.update(fields)
    result = run(customers=[c])
    assert result.quarantined.empty, result.quarantined.to_dict("records")
    [body] = result.records[result.records["kind"] == "customer"]["body"]
    return body["columns"], result.warnings["message"].tolist()


# (Lago field values, expected NetSuite columns (None = left out), text every warning must contain)
SENT = {
    "one-address": ({"email": "ap@acme.example"}, {"email": "ap@acme.example", "altemail": None}, None),
    "two-addresses": ({"email": "ap@acme.example, cfo@acme.example"},
                      {"email": "ap@acme.example", "altemail": "cfo@acme.example"}, "field email"),
    "three-addresses-rest-named": ({"email": "a@x.example,b@x.example , c@x.example"},
                                   {"email": "a@x.example", "altemail": "b@x.example"}, "'c@x.example'"),
    "trailing-comma": ({"email": "ap@acme.example,"}, {"email": "ap@acme.example", "altemail": None}, None),
    "bad-then-good": ({"email": "accounts payable, ap@acme.example"}, {"email": "ap@acme.example"},
                      "'accounts payable'"),
    "only-address-malformed": ({"email": "ap-at-acme"}, {"email": None}, "field email: address 'ap-at-acme'"),
    "address-over-254": ({"email": LONG_EMAIL}, {"email": None}, "254 characters"),
    "address-non-ascii": ({"email": "josé@acme.example"}, {"email": None}, "'josé@acme.example'"),
    "address-double-dot": ({"email": "a..b@acme.example"}, {"email": None}, "field email"),
    "no-email": ({"email": None}, {"email": None}, None),
    "phone-with-extension": ({"phone": "+1 (555) 010-0100 ext. 42"}, {"phone": "+1 (555) 010-0100 ext. 42"}, None),
    "phone-over-32": ({"phone": "+1 555 0100 / +1 555 0101 / +1 555 0102"}, {"phone": None},
                      "field phone: value '+1 555 0100 / +1 555 0101 / +1 555 0102'"),
    "phone-six-digits": ({"phone": "555 010"}, {"phone": None}, "fewer than 7 digits"),
    "phone-with-words": ({"phone": "+1 555 0100 (reception)"}, {"phone": None}, "field phone"),
    "firstname-over-32": ({"person": True, "firstname": "F" * 33}, {"firstname": None, "lastname": "Lovelace"},
                          "field firstname"),
    "companyname-over-83-cut": ({"name": "C" * 84}, {"companyname": "C" * 82 + "…"},
                                "field companyname: value '" + "C" * 84 + "' cut to NetSuite's 83 characters"),
    "lastname-over-32-cut": ({"person": True, "lastname": "L" * 40}, {"lastname": "L" * 31 + "…"},
                             "field lastname"),
    "very-long-name-shown-shortened": ({"name": "N" * 5000}, {"companyname": "N" * 82 + "…"}, "(5000 characters)"),
}


@pytest.mark.parametrize(("fields", "expected", "warning"), list(SENT.values()), ids=list(SENT))
def test_the_customer_is_sent_with_what_netsuite_accepts(fields: dict[str, Any], expected: dict[str, Any],
                                                          warning: str | None) -> None:
    cols, warnings = columns_and_warnings(**fields)
    assert {k: cols.get(k) for k in expected} == expected
    if warning is None:
        assert warnings == []
    else:
        assert warnings and all("customer ext-000005: field " in w for w in warnings)
        assert any(warning in w for w in warnings), warnings


HELD = {
    "entityid-over-83": ({"external_id": "x" * 84}, "entityid"),
    "no-name-at-all": ({"name": None}, "has no name"),
    "person-without-last-name": ({"person": True, "lastname": None}, "no last name"),
}


@pytest.mark.parametrize(("fields", "field"), list(HELD.values()), ids=list(HELD))
def test_only_a_field_netsuite_needs_holds_the_customer_back(fields: dict[str, Any], field: str) -> None:
    c = customer(6, "acme_us", person=fields.pop("person", False))
    c.update(fields)
    result = run(customers=[c])
    [reasons] = result.quarantined["reasons"].tolist()
    assert result.records.empty and any(field in r for r in reasons), reasons
