-- 0001: the Lago catalog and customers, as extracted.
-- Portable DDL (SQLite and PostgreSQL). Timestamps are UTC. JSON payloads are kept as text,
-- exactly as Lago sent them, so the store is an audit trail of what was received.

CREATE TABLE lago_catalog_object (
    object_type     VARCHAR(32)  NOT NULL,  -- plan, tax, coupon, add_on, billable_metric, billing_entity
    code            VARCHAR(255) NOT NULL,
    lago_id         VARCHAR(64),
    name            TEXT,
    payload         TEXT         NOT NULL,
    payload_hash    CHAR(64)     NOT NULL,  -- sha256 of the canonical JSON
    first_seen_at   TIMESTAMP    NOT NULL,
    changed_at      TIMESTAMP    NOT NULL,  -- when the payload last changed
    last_seen_at    TIMESTAMP    NOT NULL,
    last_run_id     VARCHAR(250),
    PRIMARY KEY (object_type, code)
);

CREATE TABLE lago_customer (
    lago_id               VARCHAR(64)  NOT NULL PRIMARY KEY,
    external_id           VARCHAR(255) NOT NULL,
    billing_entity_code   VARCHAR(255),
    name                  TEXT,
    email                 TEXT,
    currency              VARCHAR(3),
    netsuite_customer_id  VARCHAR(64),  -- Lago's own NetSuite integration link, when present
    payload               TEXT         NOT NULL,
    payload_hash          CHAR(64)     NOT NULL,
    first_seen_at         TIMESTAMP    NOT NULL,
    changed_at            TIMESTAMP    NOT NULL,
    last_seen_at          TIMESTAMP    NOT NULL,
    last_run_id           VARCHAR(250)
);

CREATE UNIQUE INDEX ux_lago_customer_external_id ON lago_customer (external_id);
