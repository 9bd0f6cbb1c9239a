"""Fill ``{"$ref": externalId}`` placeholders with NetSuite internal ids from the ledger.

Transform writes a placeholder wherever a record needs the NetSuite id of another record we sync
(our customer, the invoice a payment or credit memo applies to). Right before sending, each one is
replaced with the id the ledger recorded for that record. An optional reference (a credit memo's
apply line) whose target will never be in NetSuite drops its line instead.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lago_netsuite.ledger.claims import FAILED, QUARANTINED, SKIPPED, SYNCED, VOIDED

#: States in which a referenced record will not reach NetSuite without someone's help.
_HELD = (FAILED, QUARANTINED)
_NEVER = (SKIPPED, VOIDED)


@dataclass
class Resolution:
    """The outcome of resolving one record's references."""

    body: dict[str, Any] | None  # the record ready to send, or None when it cannot be sent now
    waiting_on: list[str] = field(default_factory=list)  # references not in NetSuite yet
    blocked: str | None = None  # a reason the record can never be sent as is
    dropped: list[str] = field(default_factory=list)  # optional references dropped
    waiting_ids: list[str] = field(default_factory=list)  # the externalIds of ``waiting_on``
    blocked_by: str | None = None  # the externalId behind ``blocked``


def is_ref(value: Any) -> bool:
    """True for a ``{"$ref": ...}`` placeholder."""
    return isinstance(value, Mapping) and "$ref" in value


def iter_refs(node: Any) -> Iterator[dict[str, Any]]:
    """Every placeholder in a record body."""
    if is_ref(node):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from iter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_refs(value)


#: A body key listing records that must be in NetSuite before it is sent, though the body names
#: them by externalId rather than internal id (a credit memo application names its memo by
#: ``memoExternalId``). Checked like a reference, then removed: it is not part of the contract.
REQUIRES = "$requires"


def referenced_ids(body: Mapping[str, Any]) -> list[str]:
    """The externalIds a record body refers to (placeholders and ``$requires``)."""
    required = [str(r) for r in body.get(REQUIRES) or []] if isinstance(body, Mapping) else []
    return list(dict.fromkeys([*(str(ref["$ref"]) for ref in iter_refs(body)), *required]))


def resolve(body: Mapping[str, Any], known: Mapping[str, tuple[str, str | None]]) -> Resolution:
    """Replace placeholders using ``known`` = ``{externalId: (ledger state, netsuite id)}``."""
    result = Resolution(body=None)
    out = copy.deepcopy(dict(body))

    def target(ref: Mapping[str, Any]) -> tuple[str | None, str | None]:
        state, ns_id = known.get(str(ref["$ref"]), (None, None))
        return state, ns_id

    def walk(node: Any) -> Any:
        if is_ref(node):
            ext = str(node["$ref"])
            state, ns_id = target(node)
            if state == SYNCED and ns_id:
                return ns_id
            if state in _NEVER:
                result.blocked = f"{ext} will never be in NetSuite ({state})"
                result.blocked_by = ext
            elif state in _HELD:
                result.waiting_on.append(f"{ext} ({state})")
                result.waiting_ids.append(ext)
            else:
                result.waiting_on.append(ext if state is None else f"{ext} ({state})")
                result.waiting_ids.append(ext)
            return node
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            kept = []
            for item in node:
                optional = [r for r in iter_refs(item) if r.get("optional")]
                if optional and any(_droppable(target(r)[0]) for r in optional):
                    result.dropped.extend(str(r["$ref"]) for r in optional)
                    continue
                kept.append(walk(item))
            return kept
        return node

    for ext in [str(r) for r in out.pop(REQUIRES, None) or []]:
        walk({"$ref": ext})
    out = walk(out)
    # a sublist left empty by a dropped optional line goes too
    for key in ("lines",):
        if isinstance(out.get(key), list):
            out[key] = [s for s in out[key] if not (isinstance(s, dict) and s.get("lineItems") == [])]
    if not result.waiting_on and result.blocked is None:
        result.body = out
    return result


def _droppable(state: str | None) -> bool:
    # An optional reference whose target we never extracted (issued before the sync start) or that
    # will never be in NetSuite is dropped; one that is on its way is waited for.
    return state is None or state in _NEVER
