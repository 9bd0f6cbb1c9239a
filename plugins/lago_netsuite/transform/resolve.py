"""Mapping resolution as merges: items, taxes, currencies and subsidiaries.

Resolution runs on the distinct keys of a batch (a few hundred at most) and is merged back onto
the rows, so a million fee lines cost one merge, not a million lookups. The order is Lago's:
items — billing-entity mapping, billing-entity fallback, organization mapping, organization
fallback; taxes — (tax, billing entity), tax, billing-entity default, organization default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lago_netsuite.transform.mappings import LEGACY_FIELDS, SUITETAX_FIELDS, Mappings

ITEM_SOURCES = ("billing_entity_mapping", "billing_entity_fallback", "organization_mapping", "organization_fallback")
TAX_SOURCES = ("tax_and_billing_entity", "tax", "billing_entity_default", "organization_default")
FEE_TYPE_MAP = {
    "charge": ("billable_metric", None),
    "add_on": ("add_on", None),
    "fixed_charge": ("add_on", None),
    "subscription": ("default", "subscription_fee"),
    "commitment": ("default", "minimum_commitment"),
    "credit": ("default", "prepaid_credit"),
}
KIND_LABELS = {"billable_metric": "billable metric", "add_on": "add-on", "default": "default item"}


def map_keys_for_fees(fee_type: pd.Series, code: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``(map_kind, map_code)`` of fees by Lago fee type; unknown types give a null kind."""
    kind = fee_type.map({t: k for t, (k, _) in FEE_TYPE_MAP.items()})
    fixed = fee_type.map({t: c for t, (_, c) in FEE_TYPE_MAP.items() if c})
    return kind, fixed.where(fixed.notna(), code)


def _first(frames: list[pd.DataFrame], cols: list[str], sources: tuple[str, ...]) -> pd.DataFrame:
    """Column-wise first non-null among candidate frames (same index), with the winning source."""
    found = [f[cols[0]].notna().to_numpy() for f in frames]
    out = pd.DataFrame(index=frames[0].index)
    for col in cols:
        out[col] = np.select(found, [f[col].to_numpy(dtype=object) for f in frames], default=None)  # type: ignore[call-overload]
    out["source"] = np.select(found, list(sources), default=None)  # type: ignore[call-overload]
    out = out.astype(object)
    return out.where(out["source"].notna(), None)


def _distinct(rows: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """``(group id per row, distinct key rows in group-id order)`` — one hashing pass, no merge back."""
    ids = rows.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    first = np.full(ids.max() + 1 if len(ids) else 0, -1, dtype=np.int64)
    positions = np.arange(len(ids))
    first[ids[::-1]] = positions[::-1]  # the last write wins: the first position of each group
    return ids, rows[keys].iloc[first].reset_index(drop=True).astype(object)


def _spread(rows: pd.DataFrame, ids: np.ndarray, found: pd.DataFrame) -> pd.DataFrame:
    """Rows with the columns of ``found`` (one row per group id) added."""
    return rows.assign(**{c: found[c].to_numpy(dtype=object)[ids] for c in found.columns})


def resolve_items(rows: pd.DataFrame, mappings: Mappings) -> pd.DataFrame:
    """Add ``item, account, item_source`` to rows keyed by ``billing_entity_code, map_kind, map_code``."""
    keys = ["billing_entity_code", "map_kind", "map_code"]
    ids, uniq = _distinct(rows, keys)
    table = mappings.item_table
    ent = table[table["scope"] != ""].rename(columns={"scope": "billing_entity_code"})
    org = table[table["scope"] == ""].drop(columns="scope")
    fb = mappings.fallback_table
    ent_fb = fb[fb["scope"] != ""].rename(columns={"scope": "billing_entity_code"})
    org_fb = fb[fb["scope"] == ""].drop(columns="scope")
    cands = [
        uniq.merge(ent, on=keys, how="left"),
        uniq.merge(ent_fb, on="billing_entity_code", how="left"),
        uniq.merge(org, on=["map_kind", "map_code"], how="left"),
        uniq.assign(item=org_fb["item"].iloc[0] if len(org_fb) else None,
                    account=org_fb["account"].iloc[0] if len(org_fb) else None),
    ]
    best = _first(cands, ["item", "account"], ITEM_SOURCES)
    return _spread(rows, ids, best.rename(columns={"source": "item_source"}))


def resolve_taxes(rows: pd.DataFrame, mappings: Mappings, tax_mode: str) -> pd.DataFrame:
    """Add ``nexus, tax_type, tax_code, tax_item, tax_source, tax_complete`` to rows keyed by
    ``billing_entity_code, lago_tax_code`` (``""`` asks for the default)."""
    keys = ["billing_entity_code", "lago_tax_code"]
    ids, uniq = _distinct(rows, keys)
    table = mappings.tax_table
    cols = ["nexus", "tax_type", "tax_code", "tax_item"]
    ent = table[table["scope"] != ""].rename(columns={"scope": "billing_entity_code"})
    org = table[table["scope"] == ""].drop(columns="scope")
    ent_default = ent[ent["lago_tax_code"] == ""].drop(columns="lago_tax_code")
    org_default = org[org["lago_tax_code"] == ""].drop(columns="lago_tax_code")
    cands = [
        uniq.merge(ent, on=keys, how="left"),
        uniq.merge(org, on="lago_tax_code", how="left"),
        uniq.merge(ent_default, on="billing_entity_code", how="left"),
        uniq.assign(**{c: org_default[c].iloc[0] if len(org_default) else None for c in cols}),
    ]
    # A candidate counts when the entry exists at all (any field set), as in the bundle.
    for c in cands:
        c["_exists"] = c[cols].notna().any(axis=1).map({True: True, False: None})
    best = _first(cands, ["_exists", *cols], TAX_SOURCES).drop(columns="_exists")
    needed = list(SUITETAX_FIELDS if tax_mode == "suitetax" else LEGACY_FIELDS)
    best["tax_complete"] = best[needed].notna().all(axis=1)
    return _spread(rows, ids, best.rename(columns={"source": "tax_source"}))


def resolve_currency(rows: pd.DataFrame, mappings: Mappings, currency_col: str = "currency") -> pd.Series:
    """NetSuite currency id per row: the billing entity's currency mapping, then the organization's."""
    keys = rows[["billing_entity_code", currency_col]].rename(columns={currency_col: "currency"})
    table = mappings.currency_table
    ent = table[table["scope"] != ""].rename(columns={"scope": "billing_entity_code"})
    org = table[table["scope"] == ""].drop(columns="scope")
    ids, uniq = _distinct(keys, ["billing_entity_code", "currency"])
    a = uniq.merge(ent, on=["billing_entity_code", "currency"], how="left")["currency_id"]
    b = uniq.merge(org, on="currency", how="left")["currency_id"]
    found = a.where(a.notna(), b).to_numpy(dtype=object)
    return pd.Series(found[ids] if len(ids) else [], index=rows.index, dtype=object)


def resolve_subsidiary(entity: pd.Series, mappings: Mappings) -> pd.Series:
    """NetSuite subsidiary id per billing entity code (None when unmapped)."""
    return entity.map(mappings.subsidiaries).astype(object).where(lambda s: s.notna(), None)


def missing_item_reason(who: pd.Series, what: pd.Series, kind: pd.Series, code: pd.Series,
                        entity: pd.Series) -> pd.Series:
    """Quarantine text for rows that resolved to no item at all."""
    label = kind.map(KIND_LABELS).fillna("item")
    return (who + ": " + what + " (" + label + " " + code.fillna("?").map(repr) + ") has no NetSuite item mapping "
            "(checked billing entity " + entity.fillna("?").map(repr) + " and the organization) and no fallback "
            "item is configured")


def fallback_warning(who: pd.Series, what: pd.Series, kind: pd.Series, code: pd.Series, item: pd.Series,
                     source: pd.Series) -> pd.Series:
    """Warning text for rows that ended on a fallback item."""
    label = kind.map(KIND_LABELS).fillna("item")
    return (who + ": " + what + " (" + label + " " + code.fillna("?").map(repr) + ") has no item mapping; used "
            + source.str.replace("_", " ") + " item " + item.astype(str))
