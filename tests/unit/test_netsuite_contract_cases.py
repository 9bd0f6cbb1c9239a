"""The shared contract cases (tests/fixtures/netsuite/contract_cases.json) against the Python sandbox.

The same file is run by Jest against the SuiteScript RESTlet (netsuite/__tests__/
contractCases.test.js), so the sandbox and the script are held to the same answers. The format is
in docs/architecture.md ("Shared contract cases"); the matcher below has the same semantics as
the Jest one. ``LAGO_NETSUITE_CONTRACT_CASES`` points at another file (for developing new cases).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.netsuite_sandbox import NetSuiteSandbox, start_netsuite_sandbox

CASES_FILE = Path(os.environ.get(
    "LAGO_NETSUITE_CONTRACT_CASES",
    Path(__file__).resolve().parents[1] / "fixtures" / "netsuite" / "contract_cases.json",
))
CONTRACT = 2
SETUP_KEYS = {"usageLimit", "records", "items", "currencies", "subsidiaries", "requiredFields"}


def _load_cases() -> dict[str, Any] | None:
    return json.loads(CASES_FILE.read_text(encoding="utf-8")) if CASES_FILE.exists() else None


FIXTURE = _load_cases()
CASES = FIXTURE["cases"] if FIXTURE else []
_MISSING = pytest.mark.skip(reason=f"no shared contract cases at {CASES_FILE}")


def mismatch(expected: Any, actual: Any, captures: dict[str, str], where: str = "body") -> str | None:
    """Where ``actual`` differs from ``expected`` (path and reason), or None when it matches.

    ``"$any"`` matches any present value, ``"$capture:name"`` any non-empty string (remembered),
    ``"$ref:name"`` the remembered value; objects match on the expected keys, arrays element-wise.
    """
    if isinstance(expected, str) and expected.startswith("$"):
        if expected == "$any":
            return None
        if expected.startswith("$capture:"):
            if not isinstance(actual, str) or actual == "":
                return f"{where}: expected a non-empty string to capture, got {json.dumps(actual)}"
            captures[expected[len("$capture:"):]] = actual
            return None
        if expected.startswith("$ref:"):
            name = expected[len("$ref:"):]
            if name not in captures:
                return f"{where}: nothing captured as {name} yet"
            return None if actual == captures[name] else \
                f"{where}: expected {json.dumps(captures[name])} ({name}), got {json.dumps(actual)}"
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: expected {len(expected)} entries, got {json.dumps(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found = mismatch(want, got, captures, f"{where}[{index}]")
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {json.dumps(actual)}"
        for key, want in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing"
            found = mismatch(want, actual[key], captures, f"{where}.{key}")
            if found:
                return found
        return None
    same = type(expected) is type(actual) or (
        isinstance(expected, int | float) and isinstance(actual, int | float)
        and not isinstance(expected, bool) and not isinstance(actual, bool)
    )
    if same and expected == actual:
        return None
    return f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"


def apply_setup(sandbox: NetSuiteSandbox, setup: dict[str, Any]) -> None:
    """Reset the sandbox and give it the case's account: usage, valid keys, existing records."""
    unknown = set(setup) - SETUP_KEYS
    assert not unknown, f"setup keys the Python runner does not know (tell the sandbox owner): {sorted(unknown)}"
    sandbox.reset()
    update: dict[str, Any] = {}
    if "usageLimit" in setup:
        update["usage_limit"] = setup["usageLimit"]
    for key, name in (("items", "valid_items"), ("currencies", "valid_currencies"),
                      ("subsidiaries", "valid_subsidiaries")):
        if setup.get(key) is not None:
            update[name] = [str(value) for value in setup[key]]
    update["required_fields"] = setup.get("requiredFields") or {}
    if update:
        sandbox.configure(**update)
    seeds = [
        {"type": r["type"], "id": str(r["id"]), "externalId": r["externalId"], "voided": r.get("voided", False),
         "body": {"externalId": r["externalId"], "type": r["type"], "columns": r.get("fields", {})}}
        for r in setup.get("records", [])
    ]
    if seeds:
        sandbox.seed(*seeds)


@pytest.fixture(scope="module")
def contract_sandbox() -> Iterator[NetSuiteSandbox]:
    sandbox = start_netsuite_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.mark.skipif(FIXTURE is None, reason=f"no shared contract cases at {CASES_FILE}")
def test_the_fixture_is_for_this_contract():
    assert FIXTURE["contract"] == CONTRACT
    names = [case["name"] for case in CASES]
    assert names and len(set(names)) == len(names)


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=case["name"]) for case in CASES] or [pytest.param(None, id="no-cases", marks=_MISSING)],
)
def test_contract_case(contract_sandbox: NetSuiteSandbox, case: dict[str, Any]) -> None:
    apply_setup(contract_sandbox, case.get("setup", {}))
    captures: dict[str, str] = {}
    for index, step in enumerate(case["steps"]):
        request, expect = substitute(step["request"], captures), step["expect"]
        if request["method"] == "GET":
            response = contract_sandbox.get({k: str(v) for k, v in (request.get("query") or {}).items()})
        else:
            response = contract_sandbox.post(request.get("body"))
        try:
            body = response.json()
        except ValueError:
            body = response.text
        found = (mismatch(expect["body"], body, captures) if "body" in expect else None) \
            if response.status_code == expect["status"] \
            else f"status: expected {expect['status']}, got {response.status_code}"
        assert found is None, f"step {index} ({request['method']}): {found}\nresponse: {response.text}"


def substitute(value: Any, captures: dict[str, str]) -> Any:
    """A request with every ``"$ref:name"`` string replaced by the value captured as ``name``
    (contract 2 cases apply a memo to the invoice an earlier step created)."""
    if isinstance(value, str) and value.startswith("$ref:"):
        return captures[value[len("$ref:"):]]
    if isinstance(value, dict):
        return {k: substitute(v, captures) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, captures) for v in value]
    return value


def test_the_matcher():
    captures: dict[str, str] = {}
    assert mismatch({"id": "$capture:a", "error": None}, {"id": "12", "error": None, "extra": 1}, captures) is None
    assert mismatch({"id": "$ref:a"}, {"id": "12"}, captures) is None
    assert "expected \"12\"" in mismatch({"id": "$ref:a"}, {"id": "13"}, captures)
    assert "non-empty string" in mismatch({"id": "$capture:b"}, {"id": None}, captures)
    assert mismatch({"error": "$any"}, {}, captures) == "body.error: missing"
    assert "expected 2 entries" in mismatch([1, 2], [1], captures)
    assert "body.error: expected null" in mismatch({"error": None}, {"error": {"code": "X"}}, captures)
    assert mismatch(True, 1, captures) is not None and mismatch(1, 1.0, captures) is None
