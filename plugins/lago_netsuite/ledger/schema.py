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

document = sa.Table(
    "lago_document",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("lago_id", sa.String(64), primary_key=True),
    sa.Column("number", sa.String(255)),
    sa.Column("issuing_date", sa.String(10)),
    sa.Column("status", sa.String(32)),
    sa.Column("customer_external_id", sa.String(255)),
    sa.Column("lago_updated_at", sa.String(40)),
    *_tracking_columns(),
)

document_version = sa.Table(
    "lago_document_version",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("lago_id", sa.String(64), primary_key=True),
    sa.Column("payload_hash", sa.CHAR(64), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String(250)),
)

ledger = sa.Table(
    "sync_ledger",
    metadata,
    sa.Column("external_id", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("record_type", sa.String(32), nullable=False),
    sa.Column("lago_id", sa.String(64), nullable=False),
    sa.Column("number", sa.String(255)),
    sa.Column("currency", sa.String(3)),
    sa.Column("total_minor", sa.BigInteger),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("payload", sa.Text),
    sa.Column("payload_hash", sa.CHAR(64)),
    sa.Column("sent_hash", sa.CHAR(64)),
    sa.Column("source_hash", sa.CHAR(64)),
    sa.Column("mapping_hash", sa.CHAR(64)),
    sa.Column("depends_on", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime),
    sa.Column("netsuite_id", sa.String(64)),
    sa.Column("last_error_code", sa.String(64)),
    sa.Column("last_error_message", sa.Text),
    sa.Column("changed_after_sync", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(200)),
    sa.Column("lease_expires_at", sa.DateTime),
    sa.Column("last_run_id", sa.String(250)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("synced_at", sa.DateTime),
    sa.Column("billing_entity_code", sa.String(255)),  # 0017: the customer's, for the ledger UI
)

event = sa.Table(
    "sync_event",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("external_id", sa.String(300), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String(250)),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("code", sa.String(64)),
    sa.Column("message", sa.Text),
    sa.Column("netsuite_id", sa.String(64)),
)

watermark = sa.Table(
    "extraction_watermark",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String(250)),
)

load_lane = sa.Table(  # 0018: what each load lane of a run did, across the tries of its task
    "load_lane",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("lane", sa.Integer, primary_key=True),
    sa.Column("stats", sa.Text, nullable=False),
    sa.Column("refused", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

sync_run = sa.Table(
    "sync_run",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("window_from", sa.String(10)),
    sa.Column("window_to", sa.String(10)),
    sa.Column("summary", sa.Text),
    sa.Column("producer_state", sa.String(16)),  # 0018: running, done or failed (load/stream.py)
    sa.Column("load_scope", sa.Text),  # 0018: JSON list of the externalIds a run may send, or NULL: all
)

late_change_seen = sa.Table(
    "late_change_seen",
    metadata,
    sa.Column("list_name", sa.String(64), primary_key=True),
    sa.Column("lago_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(64)),
    sa.Column("seen_at", sa.DateTime, nullable=False),
)
