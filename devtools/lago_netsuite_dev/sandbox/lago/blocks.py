"""Blocks of the generated documents that do not change the arithmetic: subscriptions, wallets.

``subscription_blocks`` gives an invoice's ``subscriptions`` and ``billing_periods`` (shown by
``GET /invoices/{id}`` only); ``wallet_doc`` a customer's prepaid-credit wallet, whose balance is
what it was granted plus what it bought minus what invoices consumed.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

from .catalog import Catalog
from .common import iso_datetime, period_bounds, rails_decimal
from .customers import CustomerProfile

D = Decimal


def subscription_blocks(catalog: Catalog, p: CustomerProfile, kind: str, day: date) -> dict:
    """``subscriptions`` and ``billing_periods`` of an invoice that bills a subscription."""
    if kind not in ("subscription", "progressive_billing", "advance_charges"):
        return {}
    c_from, c_to, a_from, a_to = period_bounds(day)
    plan = catalog.plan_by_code[p.plan_code]
    started = iso_datetime(
        datetime(p.subscription_started.year, p.subscription_started.month, p.subscription_started.day)
    )
    subscription = {
        "lago_id": p.subscription_id,
        "external_id": p.subscription_external_id,
        "lago_customer_id": p.doc["lago_id"],
        "external_customer_id": p.doc["external_id"],
        "name": None,
        "plan_code": p.plan_code,
        "status": "active",
        "billing_time": "anniversary",
        "subscription_at": started,
        "started_at": started,
        "trial_ended_at": None,
        "ending_at": None,
        "terminated_at": None,
        "canceled_at": None,
        "created_at": started,
        "previous_plan_code": None,
        "next_plan_code": None,
        "downgrade_plan_date": None,
        "current_billing_period_started_at": a_from,
        "current_billing_period_ending_at": a_to,
    }
    reason = {
        "subscription": "subscription_periodic",
        "progressive_billing": "progressive_billing",
        "advance_charges": "in_advance_charge_periodic",
    }[kind]
    period = {
        "lago_subscription_id": p.subscription_id,
        "external_subscription_id": p.subscription_external_id,
        "lago_plan_id": plan["lago_id"],
        "subscription_from_datetime": a_from,
        "subscription_to_datetime": a_to,
        "charges_from_datetime": c_from,
        "charges_to_datetime": c_to,
        "invoicing_reason": reason,
    }
    return {"subscriptions": [subscription], "billing_periods": [period]}


def wallet_doc(seed: int, p: CustomerProfile, exp: int, prepaid_used: int, topped_up: int) -> dict:
    """The customer's wallet, its balance consistent with the credits bought and consumed."""
    rng = random.Random(f"lago-wallet:{seed}:{p.index}")
    scale = D(10) ** exp
    granted = max(0, prepaid_used - topped_up) + int(D(rng.randint(0, 500)) * scale)
    balance = granted + topped_up - prepaid_used
    created = p.doc["created_at"]
    return {
        "lago_id": p.wallet_id,
        "lago_customer_id": p.doc["lago_id"],
        "external_customer_id": p.doc["external_id"],
        "billing_entity_code": p.entity.code,
        "status": "active",
        "currency": p.currency,
        "name": "Prepaid credits",
        "code": "prepaid",
        "priority": 50,
        "rate_amount": "1.0",
        "credits_balance": rails_decimal(balance / scale),
        "balance_cents": balance,
        "consumed_credits": rails_decimal(D(prepaid_used) / scale),
        "created_at": created,
        "expiration_at": None,
        "last_balance_sync_at": None,
        "last_consumed_credit_at": None,
        "terminated_at": None,
        "invoice_requires_successful_payment": False,
        "applies_to": {"fee_types": [], "billable_metric_codes": []},
        "recurring_transaction_rules": [],
        "ongoing_balance_cents": balance,
        "ongoing_usage_balance_cents": 0,
        "credits_ongoing_balance": rails_decimal(balance / scale),
        "credits_ongoing_usage_balance": "0.0",
        "paid_top_up_min_amount_cents": None,
        "paid_top_up_max_amount_cents": None,
    }
