"""A local stand-in for Lago's REST API: a seeded dataset generator and a FastAPI app serving it.

``generator`` builds Lago-consistent documents (``generate``, ``iter_invoice_bundles``,
``check_invoice_arithmetic``); ``app.create_app`` serves them under ``/api/v1`` with Lago's auth,
pagination, filters, errors and rate limiting, plus ``/_sandbox/`` admin endpoints for tests.
Importing this package is cheap: FastAPI is imported by ``app`` only.
"""

from __future__ import annotations
