-- 0016: what the hourly run's late-change lists (voided invoices, failed payments, voided or
-- refunded credit notes) have already shown, so each run reads only until what it has seen.
CREATE TABLE late_change_seen (
    list_name   VARCHAR(64)  NOT NULL,
    lago_id     VARCHAR(64)  NOT NULL,
    version     VARCHAR(64),
    seen_at     TIMESTAMP    NOT NULL,
    PRIMARY KEY (list_name, lago_id)
);
