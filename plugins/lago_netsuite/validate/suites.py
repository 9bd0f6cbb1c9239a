"""The expectation suites of the gate, one per record kind, as data.

Every expectation has a stable name (``meta.name``) that is what a quarantined document reports
and what an accountant reads in the Data Docs. Only column-map expectations are used, so every
failure points at the documents (external ids) that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lago_netsuite import netsuite_fields as nsf

EXTERNAL_ID = r"^lago-(?:customer|invoice|salesorder|creditnote|payment)-\S+$"
NS_DATE = r"^(?:1[0-2]|[1-9])/(?:3[01]|[12][0-9]|[1-9])/\d{4}$"
EMAIL = nsf.EMAIL  # one address, as NetSuite's e-mail fields take it


@dataclass(frozen=True)
class Check:
    """One named expectation: the GX expectation class name, its arguments and what it means."""

    name: str
    expectation: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def _common(kind: str) -> list[Check]:
    return [
        Check("unique_external_id", "ExpectColumnValuesToBeUnique", {"column": "external_id"},
              "Each document appears once in the batch (its NetSuite externalId is unique)."),
        Check("external_id_format", "ExpectColumnValuesToMatchRegex", {"column": "external_id", "regex": EXTERNAL_ID},
              f"The externalId is lago-{kind}-<Lago id>."),
    ]


def transaction_checks(kind: str, tax_mode: str) -> list[Check]:
    """Invoices, sales orders and credit memos."""
    tax_field = "nexus" if tax_mode == "suitetax" else "tax item"
    return _common(kind) + [
        Check("tranid_present", "ExpectColumnValuesToNotBeNull", {"column": "tranid"},
              "The document number (tranid) is present."),
        Check("customer_reference_present", "ExpectColumnValuesToNotBeNull", {"column": "entity"},
              "The NetSuite customer is known (id) or will be (reference to our customer record)."),
        Check("currency_mapped", "ExpectColumnValuesToNotBeNull", {"column": "currency_id"},
              "The Lago currency is mapped to a NetSuite currency."),
        Check("subsidiary_mapped", "ExpectColumnValuesToNotBeNull", {"column": "subsidiary"},
              "The billing entity is mapped to a NetSuite subsidiary."),
        Check("trandate_present", "ExpectColumnValuesToNotBeNull", {"column": "trandate"},
              "The transaction date is present."),
        Check("trandate_format", "ExpectColumnValuesToMatchRegex", {"column": "trandate", "regex": NS_DATE},
              "Dates are M/D/YYYY (NetSuite's default format)."),
        Check("tax_mode_fields_present", "ExpectColumnValuesToNotBeNull", {"column": "tax_mode_field"},
              f"The {tax_field} required by the account's tax mode is set."),
        Check("exponent_matches_currency", "ExpectColumnValuesToBeInSet", {"column": "exponent_ok",
                                                                           "value_set": [True]},
              "Amounts use the currency's own number of decimals (JPY 0, EUR 2, KWD 3)."),
        Check("has_item_lines", "ExpectColumnValuesToBeBetween", {"column": "n_lines", "min_value": 1},
              "The document has at least one item line."),
        Check("items_mapped", "ExpectColumnValuesToBeBetween", {"column": "lines_unmapped", "min_value": 0,
                                                                "max_value": 0},
              "Every line is on a NetSuite item."),
        Check("taxes_mapped", "ExpectColumnValuesToBeBetween", {"column": "tax_unmapped", "min_value": 0,
                                                                "max_value": 0},
              "Every taxdetails row has a tax type and tax code."),
        Check("tax_rows_reference_lines", "ExpectColumnValuesToBeBetween",
              {"column": "orphan_tax_rows", "min_value": 0, "max_value": 0},
              "Every taxdetails row references a line of the document."),
        Check("amount_precision_matches_currency", "ExpectColumnValuesToBeBetween",
              {"column": "precision_violations", "min_value": 0, "max_value": 0},
              "Every amount sent is exactly the Lago amount, with at most the currency's decimals."),
        Check("rate_quantity_fit_15_characters", "ExpectColumnValuesToBeBetween",
              {"column": "long_numbers", "min_value": 0, "max_value": 0},
              "Rates and quantities keep at most 15 characters (NetSuite's precision)."),
        Check("totals_match_lago", "ExpectColumnValuesToBeBetween", {"column": "invariant_diff", "min_value": 0,
                                                                     "max_value": 0},
              "Item lines + tax total = Lago total_amount_cents, exactly."),
        Check("total_not_negative", "ExpectColumnValuesToBeBetween", {"column": "total_minor", "min_value": 0},
              "NetSuite refuses a negative document total."),
    ]


def payment_checks() -> list[Check]:
    """Customer payments."""
    return _common("payment") + [
        Check("customer_reference_present", "ExpectColumnValuesToNotBeNull", {"column": "entity"},
              "The NetSuite customer is known (id) or will be (reference to our customer record)."),
        Check("currency_mapped", "ExpectColumnValuesToNotBeNull", {"column": "currency_id"},
              "The Lago currency is mapped to a NetSuite currency."),
        Check("trandate_format", "ExpectColumnValuesToMatchRegex", {"column": "trandate", "regex": NS_DATE},
              "Dates are M/D/YYYY."),
        Check("payment_matches_lago", "ExpectColumnValuesToBeBetween", {"column": "invariant_diff", "min_value": 0,
                                                                        "max_value": 0},
              "payment = Lago amount_cents, exactly."),
        Check("amount_precision_matches_currency", "ExpectColumnValuesToBeInSet",
              {"column": "precision_ok", "value_set": [True]},
              "The payment amount has at most the currency's decimals."),
        Check("payment_positive", "ExpectColumnValuesToBeBetween", {"column": "payment_minor", "min_value": 1},
              "Only positive payments are sent."),
        Check("one_apply_line", "ExpectColumnValuesToBeBetween", {"column": "apply_lines", "min_value": 1,
                                                                  "max_value": 1},
              "The payment is applied to exactly one invoice."),
        Check("applied_amount_matches_payment", "ExpectColumnValuesToBeBetween",
              {"column": "apply_diff", "min_value": 0, "max_value": 0},
              "The applied amount equals the payment."),
    ]


def customer_checks() -> list[Check]:
    """Customers."""
    return _common("customer") + [
        Check("entityid_present", "ExpectColumnValuesToNotBeNull", {"column": "entityid"},
              "The Lago external id becomes the NetSuite entityid."),
        Check("name_present", "ExpectColumnValuesToNotBeNull", {"column": "name"},
              "A company name, or a person's last name."),
        Check("isperson_flag", "ExpectColumnValuesToBeInSet", {"column": "isperson", "value_set": ["T", "F"]},
              "isperson is T or F."),
        Check("subsidiary_mapped", "ExpectColumnValuesToNotBeNull", {"column": "subsidiary"},
              "The billing entity is mapped to a NetSuite subsidiary."),
        Check("lago_id_present", "ExpectColumnValuesToNotBeNull", {"column": "custentity_lago_id"},
              "The Lago id links the NetSuite customer back to Lago."),
        Check("email_format", "ExpectColumnValuesToMatchRegex", {"column": "email", "regex": EMAIL},
              "An email, when present, is one address NetSuite accepts (the transform leaves out the others)."),
        Check("altemail_format", "ExpectColumnValuesToMatchRegex", {"column": "altemail", "regex": EMAIL},
              "An alternate email, when present, is one address NetSuite accepts."),
        Check("phone_format", "ExpectColumnValuesToMatchRegex", {"column": "phone", "regex": nsf.PHONE},
              f"A phone, when present, has {nsf.PHONE_MIN_DIGITS} digits or more and only the characters "
              "NetSuite accepts."),
        Check("fields_fit_netsuite", "ExpectColumnValuesToBeBetween", {"column": "too_long_fields", "min_value": 0,
                                                                       "max_value": 0},
              "Every text field fits NetSuite's length (entityid and company name 83, names 32, email 254, "
              "phone 32)."),
        Check("currency_mapped", "ExpectColumnValuesToBeInSet", {"column": "currency_ok", "value_set": [True]},
              "The customer's currency, when set, is mapped."),
    ]


def void_checks() -> list[Check]:
    """Void actions."""
    return [
        Check("unique_external_id", "ExpectColumnValuesToBeUnique", {"column": "external_id"},
              "Each void appears once."),
        Check("external_id_format", "ExpectColumnValuesToMatchRegex", {"column": "external_id",
                                                                       "regex": EXTERNAL_ID},
              "The externalId is lago-<kind>-<Lago id>."),
        Check("void_type", "ExpectColumnValuesToBeInSet", {"column": "record_type",
                                                           "value_set": ["invoice", "salesorder"]},
              "Only invoices and sales orders are voided."),
        Check("void_action", "ExpectColumnValuesToBeInSet", {"column": "body_action", "value_set": ["void"]},
              "The record's action is void."),
    ]
