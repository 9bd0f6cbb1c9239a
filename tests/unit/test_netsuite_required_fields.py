"""The NetSuite sandbox's mandatory fields per record type, set through ``/_sandbox/config``."""

from __future__ import annotations

from tests.plugins.netsuite_sandbox import invoice_record


def outcome(sandbox, record) -> tuple[str, str | None]:
    [result] = sandbox.post({"records": [record]}).json()["results"]
    return result["status"], (result["error"] or {}).get("message")


def test_mandatory_fields_are_refused_with_netsuites_message_until_the_record_carries_them(netsuite_sandbox):
    netsuite_sandbox.seed_customer()
    view = netsuite_sandbox.configure(required_fields={"invoice": ["department", "item.class"]})
    assert view["required_fields"] == {"invoice": ["department", "item.class"]}
    bare = invoice_record("lago-invoice-1")
    assert outcome(netsuite_sandbox, bare) == ("failed", "Please enter value(s) for: Department, Class")
    lines_only = invoice_record("lago-invoice-1", department="7")
    assert outcome(netsuite_sandbox, lines_only) == ("failed", "Please enter value(s) for: Class")
    lines_only["lines"][0]["lineItems"][0]["class"] = "12"
    assert outcome(netsuite_sandbox, lines_only)[0] == "created"
    stored = netsuite_sandbox.records("invoice")[0]["body"]
    assert stored["columns"]["department"] == "7" and stored["lines"][0]["lineItems"][0]["class"] == "12"
    waived = invoice_record("lago-invoice-2")
    waived["options"]["ignoreMandatoryFields"] = True
    assert outcome(netsuite_sandbox, waived)[0] == "created"  # as NetSuite: the record asked to skip them


def test_required_fields_need_a_known_record_type(netsuite_sandbox):
    response = netsuite_sandbox.session.post(f"{netsuite_sandbox.url}/_sandbox/config",
                                             json={"required_fields": {"invoices": ["department"]}}, timeout=5)
    assert response.status_code == 400 and "required_fields: unknown record type 'invoices'" in response.text
