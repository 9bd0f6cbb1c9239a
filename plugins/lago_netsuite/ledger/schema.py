"""SQLAlchemy Core tables mirroring ``include/sql/migrations``.

The SQL files create the tables; these definitions type the queries. ``tests/unit/test_ledger_schema``
migrates an empty database and compares it with this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _tracking_columns() -> list[sa.Column]:
    return [
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_hash", sa.CHAR(64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_run_id", sa.String(250)),
    ]


catalog_object = sa.Table(
    "lago_catalog_object",
    metadata,
    sa.Column("object_type", sa.String(32), primary_key=True),
    sa.Column("code", sa.String(255), primary_key=True),
    sa.Column("lago_id", sa.String(64)),
    sa.Column("name", sa.Text),
    *_tracking_columns(),
)

customer = sa.Table(
    "lago_customer",
    metadata,
    sa.Column("lago_id", sa.String(64), primary_key=True),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("billing_entity_code", sa.String(255)),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("currency", sa.String(3)),
    sa.Column("netsuite_customer_id", sa.String(64)),
    *_tracking_columns(),
)
