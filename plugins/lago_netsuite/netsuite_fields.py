"""What NetSuite accepts in the customer fields this project sets, as one table of facts.

The transform uses it to leave out an optional value NetSuite would refuse (with a warning that
names the field and the value) and to cut a name to fit, instead of holding the customer back (only
an entity id over the limit holds it back: it must reach NetSuite whole); the validation gate checks
the same rules as a backstop; the NetSuite sandbox refuses what breaks them, as NetSuite does.

Limits (NetSuite customer record). E-mail and alternate e-mail 254 and first/last name 32 are the
column lengths of the entity (contact) table in NetSuite's schema browser; entity id and company
name 83, and the phone rule (seven digits or more, 32 characters at most, no words), are NetSuite's
customer form limits as commonly documented — not confirmed against an account here:

================  ==========  ======================================================
field             required    NetSuite accepts
================  ==========  ======================================================
entityid          yes         1-83 characters (our Lago ``external_id``)
companyname       company     1-83 characters
firstname         no          up to 32 characters
lastname          person      1-32 characters
email, altemail   no          one address, ``local@domain.tld``, ASCII, <= 254
phone             no          <= 32 characters: digits, spaces, ``+ ( ) - . /``, an
                              extension (``x123`` / ``ext 123``), seven digits or more
================  ==========  ======================================================
"""

from __future__ import annotations

import re

ENTITYID_MAX = 83
COMPANYNAME_MAX = 83
FIRSTNAME_MAX = 32
LASTNAME_MAX = 32
EMAIL_MAX = 254
PHONE_MAX = 32
PHONE_MIN_DIGITS = 7

#: One e-mail address as NetSuite's e-mail fields take it (ASCII local part and dotted domain).
EMAIL = (r"^(?=.{3,254}$)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
         r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_EMAIL = re.compile(EMAIL)
#: A phone as NetSuite's phone fields take it: separators, an optional extension, 7+ digits.
PHONE = r"^(?=(?:\D*\d){7})\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]+)?$"
_PHONE = re.compile(PHONE, re.IGNORECASE)

#: Text fields and their maximum length in characters.
MAX_LENGTH = {"entityid": ENTITYID_MAX, "companyname": COMPANYNAME_MAX, "firstname": FIRSTNAME_MAX,
              "lastname": LASTNAME_MAX, "email": EMAIL_MAX, "altemail": EMAIL_MAX, "phone": PHONE_MAX}


def split_emails(value: str | None) -> list[str]:
    """The addresses of a Lago ``email`` (Lago separates several with commas), trimmed, non-empty."""
    if not isinstance(value, str):
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def email_problem(address: str) -> str | None:
    """Why NetSuite would refuse ``address`` in an e-mail field, or None."""
    if len(address) > EMAIL_MAX:
        return f"longer than NetSuite's {EMAIL_MAX} characters"
    if not _EMAIL.match(address):
        return "not an e-mail address NetSuite accepts"
    return None


def phone_problem(phone: str) -> str | None:
    """Why NetSuite would refuse ``phone`` in a phone field, or None."""
    if len(phone) > PHONE_MAX:
        return f"longer than NetSuite's {PHONE_MAX} characters"
    if sum(ch.isdigit() for ch in phone) < PHONE_MIN_DIGITS:
        return f"fewer than {PHONE_MIN_DIGITS} digits"
    if not _PHONE.match(phone):
        return "not a phone number NetSuite accepts (digits, spaces, + ( ) - . / and an extension only)"
    return None


def length_problem(field_id: str, value: str) -> str | None:
    """Why ``value`` is too long for ``field_id``, or None."""
    limit = MAX_LENGTH.get(field_id)
    if limit is not None and len(value) > limit:
        return f"{len(value)} characters, NetSuite's {field_id} holds at most {limit}"
    return None


def cut_to_fit(field_id: str, value: object) -> object:
    """``value`` cut to ``field_id``'s length, ending in ``…`` when cut (other values unchanged)."""
    limit = MAX_LENGTH.get(field_id)
    if not isinstance(value, str) or limit is None or len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + "…"


def customer_field_problem(field_id: str, value: object) -> str | None:
    """Why NetSuite would refuse ``value`` in the customer field ``field_id`` (None when it accepts it)."""
    if not isinstance(value, str):
        return None
    if field_id in ("email", "altemail"):
        return email_problem(value) if value else None
    if field_id == "phone":
        return phone_problem(value) if value else None
    return length_problem(field_id, value)
