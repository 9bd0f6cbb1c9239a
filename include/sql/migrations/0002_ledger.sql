-- 0002: raw documents (the audit trail), the sync ledger, its event log, watermarks, load plans
-- and run reports. Portable DDL (SQLite and PostgreSQL); timestamps are UTC.

-- The latest copy of every Lago document we extracted, as received.
CREATE TABLE lago_document (
    kind                  VARCHAR(16)  NOT NULL,   -- invoice, creditnote, payment
    lago_id               VARCHAR(64)  NOT NULL,
    number                VARCHAR(255),
    issuing_date          VARCHAR(10),             -- ISO date (payments: created_at date)
    status                VARCHAR(32),             -- Lago status; payments: payment_status
    customer_external_id  VARCHAR(255),
    lago_updated_at       VARCHAR(40),             -- Lago's updated_at, to skip unchanged detail fetches
    payload               TEXT         NOT NULL,
    payload_hash          CHAR(64)     NOT NULL,
    first_seen_at         TIMESTAMP    NOT NULL,
    changed_at            TIMESTAMP    NOT NULL,
    last_seen_at          TIMESTAMP    NOT NULL,
    last_run_id           VARCHAR(250),
    PRIMARY KEY (kind, lago_id)
);
CREATE INDEX ix_lago_document_number ON lago_document (number);
CREATE INDEX ix_lago_document_issuing ON lago_document (kind, issuing_date);

-- Every distinct version of every document ever received: nothing Lago sent is lost.
CREATE TABLE lago_document_version (
    kind          VARCHAR(16)  NOT NULL,
    lago_id       VARCHAR(64)  NOT NULL,
    payload_hash  CHAR(64)     NOT NULL,
    payload       TEXT         NOT NULL,
    received_at   TIMESTAMP    NOT NULL,
    run_id        VARCHAR(250),
    PRIMARY KEY (kind, lago_id, payload_hash)
);

-- One row per NetSuite record we sync, keyed by the contract externalId.
CREATE TABLE sync_ledger (
    external_id         VARCHAR(300) NOT NULL PRIMARY KEY,  -- lago-{kind}-{lago_id}
    kind                VARCHAR(16)  NOT NULL,   -- customer, invoice, salesorder, creditnote, payment
    record_type         VARCHAR(32)  NOT NULL,   -- NetSuite record type
    lago_id             VARCHAR(64)  NOT NULL,
    number              VARCHAR(255),
    currency            VARCHAR(3),
    total_minor         BIGINT,                  -- Lago's total in minor units
    state               VARCHAR(16)  NOT NULL,   -- pending sent synced waiting failed quarantined voided skipped
    action              VARCHAR(8)   NOT NULL,   -- create | void: what the next send does
    payload             TEXT,                    -- the contract record to send (with $ref placeholders)
    payload_hash        CHAR(64),
    sent_hash           CHAR(64),                -- hash of the record as last sent
    source_hash         CHAR(64),                -- payload_hash of the Lago document it was built from
    mapping_hash        CHAR(64),                -- fingerprint of the mapping file it was built with
    depends_on          TEXT,                    -- JSON list of externalIds that must be in NetSuite first
    attempts            INTEGER      NOT NULL,
    next_attempt_at     TIMESTAMP,
    netsuite_id         VARCHAR(64),
    last_error_code     VARCHAR(64),
    last_error_message  TEXT,
    changed_after_sync  INTEGER      NOT NULL,   -- 1: Lago changed the document after it was synced
    lease_owner         VARCHAR(200),
    lease_expires_at    TIMESTAMP,
    last_run_id         VARCHAR(250),
    created_at          TIMESTAMP    NOT NULL,
    updated_at          TIMESTAMP    NOT NULL,
    synced_at           TIMESTAMP
);
CREATE INDEX ix_sync_ledger_state ON sync_ledger (state, next_attempt_at);
CREATE INDEX ix_sync_ledger_lago ON sync_ledger (lago_id);
CREATE INDEX ix_sync_ledger_number ON sync_ledger (number);
CREATE INDEX ix_sync_ledger_run ON sync_ledger (last_run_id);

-- Append-only history of every transition, with NetSuite's answer: the audit of the sync.
CREATE TABLE sync_event (
    event_id     VARCHAR(36)  NOT NULL PRIMARY KEY,
    external_id  VARCHAR(300) NOT NULL,
    at           TIMESTAMP    NOT NULL,
    run_id       VARCHAR(250),
    from_state   VARCHAR(16),
    to_state     VARCHAR(16)  NOT NULL,
    code         VARCHAR(64),
    message      TEXT,
    netsuite_id  VARCHAR(64)
);
CREATE INDEX ix_sync_event_external_id ON sync_event (external_id, at);
CREATE INDEX ix_sync_event_run ON sync_event (run_id);

-- Extraction progress per stream (invoices, credit_notes, payments).
CREATE TABLE extraction_watermark (
    stream      VARCHAR(64)  NOT NULL PRIMARY KEY,
    value       VARCHAR(64)  NOT NULL,
    updated_at  TIMESTAMP    NOT NULL,
    run_id      VARCHAR(250)
);

-- The work a run's mapped load tasks carry: stage 1 customers, 2 invoices, 3 the rest.
CREATE TABLE load_group (
    run_id        VARCHAR(250) NOT NULL,
    stage         INTEGER      NOT NULL,
    group_no      INTEGER      NOT NULL,
    label         VARCHAR(500) NOT NULL,
    external_ids  TEXT         NOT NULL,  -- JSON list
    created_at    TIMESTAMP    NOT NULL,
    PRIMARY KEY (run_id, stage, group_no)
);

-- What each run did, for the report, the demo and auditors.
CREATE TABLE sync_run (
    run_id       VARCHAR(250) NOT NULL PRIMARY KEY,
    dag_id       VARCHAR(250) NOT NULL,
    started_at   TIMESTAMP    NOT NULL,
    finished_at  TIMESTAMP,
    window_from  VARCHAR(10),
    window_to    VARCHAR(10),
    summary      TEXT                     -- JSON report
);
