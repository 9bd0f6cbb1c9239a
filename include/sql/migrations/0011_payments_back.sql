-- 0011: payments recorded in NetSuite that flow back to Lago (issue 11). One row per NetSuite
-- application of a payment (or credit memo) to an invoice that carries a Lago id, keyed by the
-- reference the Lago payment carries. Portable DDL (SQLite and PostgreSQL); timestamps are UTC.
CREATE TABLE payment_back (
    reference               VARCHAR(64)  NOT NULL PRIMARY KEY,  -- ns-pay-<payment id>-inv-<invoice id>
    netsuite_type           VARCHAR(32)  NOT NULL,   -- customerpayment | creditmemo
    netsuite_payment_id     VARCHAR(64)  NOT NULL,
    netsuite_tranid         VARCHAR(255),
    netsuite_invoice_id     VARCHAR(64)  NOT NULL,
    invoice_external_id     VARCHAR(300) NOT NULL,   -- lago-invoice-<lago id>
    invoice_lago_id         VARCHAR(64)  NOT NULL,
    amount                  VARCHAR(40)  NOT NULL,   -- the application as NetSuite listed it (major units)
    currency                VARCHAR(3),              -- the Lago invoice's currency, once known
    amount_minor            BIGINT,                  -- what was (or will be) sent to Lago
    paid_at                 VARCHAR(10),             -- ISO date of the NetSuite trandate
    state                   VARCHAR(16)  NOT NULL,   -- pending sent synced failed skipped
    attempts                INTEGER      NOT NULL,
    next_attempt_at         TIMESTAMP,
    lago_payment_id         VARCHAR(64),
    last_error_code         VARCHAR(64),
    last_error_message      TEXT,
    voided_in_netsuite      INTEGER      NOT NULL,   -- 1: NetSuite voided the payment
    changed_in_netsuite     INTEGER      NOT NULL,   -- 1: the amount changed after it reached Lago
    netsuite_last_modified  VARCHAR(40),
    last_run_id             VARCHAR(250),
    created_at              TIMESTAMP    NOT NULL,
    updated_at              TIMESTAMP    NOT NULL,
    synced_at               TIMESTAMP
);
CREATE INDEX ix_payment_back_state ON payment_back (state, next_attempt_at);
CREATE INDEX ix_payment_back_invoice ON payment_back (invoice_lago_id);
CREATE INDEX ix_payment_back_payment ON payment_back (netsuite_payment_id);

-- Append-only history of every transition of a payment_back row, with Lago's answer.
CREATE TABLE payment_back_event (
    event_id         VARCHAR(36)  NOT NULL PRIMARY KEY,
    reference        VARCHAR(64)  NOT NULL,
    at               TIMESTAMP    NOT NULL,
    run_id           VARCHAR(250),
    from_state       VARCHAR(16),
    to_state         VARCHAR(16)  NOT NULL,
    code             VARCHAR(64),
    message          TEXT,
    lago_payment_id  VARCHAR(64)
);
CREATE INDEX ix_payment_back_event_ref ON payment_back_event (reference, at);
CREATE INDEX ix_payment_back_event_run ON payment_back_event (run_id);
