"""The run report as an accountant reads it: one wrapped line per document, plain reasons, what to fix."""

from __future__ import annotations

from lago_netsuite.report import WIDTH, headline, outcome, plain_reason, render_text

FEE_1 = "3f1c2d4e-aaaa-4bbb-8ccc-0123456789ab"
FEE_2 = "9e8d7c6b-aaaa-4bbb-8ccc-ba9876543210"
MISSING = ("invoice ACME-0042: fee {} (billable metric 'api_calls') has no NetSuite item mapping (checked billing "
           "entity 'acme_us' and the organization) and no fallback item is configured")


def _report(**over):
    base = {"run_id": "manual__1", "totals": {}, "by_kind": {}, "seen": 0, "failed": [], "quarantined": [],
            "waiting": [], "unresolved": [], "changed_after_sync": [], "extract": {"window": ["2026-01-01",
                                                                                            "2026-01-31"]}}
    return {**base, **over}


def test_a_reason_repeated_per_fee_is_said_once_without_uuids() -> None:
    text = plain_reason("QUARANTINED", "; ".join(MISSING.format(f) for f in (FEE_1, FEE_2)))
    assert FEE_1 not in text and FEE_2 not in text and "ACME-0042" not in text
    assert text.startswith("a fee (billable metric 'api_calls') has no NetSuite item mapping") and text.endswith("(×2)")


def test_each_document_is_one_wrapped_entry_with_customer_reason_and_fix() -> None:
    item = {"external_id": "lago-invoice-x", "kind": "invoice", "number": "ACME-0042", "lago_id": "x",
            "customer": "acme-1", "code": "QUARANTINED", "reason": MISSING.format(FEE_1)}
    text = render_text(_report(quarantined=[item], totals={"quarantined": 1}, seen=1))
    assert all(len(line) <= WIDTH for line in text.splitlines())
    assert "invoice ACME-0042 (customer acme-1)" in text
    assert "Fix: add the item to the items section of the mapping file" in text
    assert FEE_1 not in text


def test_already_in_netsuite_is_not_the_same_as_nothing_in_the_range() -> None:
    empty = headline(_report())
    assert empty.startswith("Nothing in the range")
    there = headline(_report(totals={"already_there": 12}, seen=12))
    assert "already in NetSuite: 12" in there and "Nothing" not in there
    assert "already in NetSuite: 12" in render_text(_report(totals={"already_there": 12}, seen=12))


def test_the_verdict_fails_or_warns_on_documents_earlier_runs_left_behind() -> None:
    old = {"external_id": "lago-invoice-y", "kind": "invoice", "number": "ACME-0007", "lago_id": "y",
           "code": "INVALID_FLD_VALUE", "reason": "Invalid value for field department", "since": "2026-01-01T00:00:00",
           "age_hours": 50.0, "customer": "acme-2", "state": "failed"}
    assert outcome(_report())["state"] == "success"
    failed = outcome(_report(unresolved=[old]))
    assert failed["state"] == "failed" and "ACME-0007" in failed["note"]
    assert "still unresolved from earlier runs 1" in failed["note"]
    assert outcome(_report(unresolved=[old]), policy="warn")["state"] == "warning"
    text = render_text(_report(unresolved=[old]))
    assert "STILL UNRESOLVED from earlier runs" in text and "open 2.1 days" in text
    assert "retry_document" in text  # what to do about a NetSuite refusal


def test_an_application_made_now_counts_as_synced_and_is_named_in_words() -> None:
    from lago_netsuite.report import _LABELS, _outcome

    assert _outcome("synced", "applied") == "synced"
    assert _outcome("synced", "existing") == "already_there"
    assert _LABELS["creditapply"] == "credit application" and _LABELS["refund"] == "refund"
