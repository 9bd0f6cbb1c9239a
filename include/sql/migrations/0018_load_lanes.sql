-- 0018: a run's extraction and loading overlap (issue 13). The producer (extract, then transform
-- and validate, slice by slice) says how far it is in sync_run.producer_state, and which records a
-- run may send when it is limited to some (the single-document retry) in sync_run.load_scope; the
-- load lanes keep what each one did across the tries of its task in load_lane. The load groups a
-- run used to be planned into are gone with the planning.
ALTER TABLE sync_run ADD COLUMN producer_state VARCHAR(16);
ALTER TABLE sync_run ADD COLUMN load_scope TEXT;
CREATE TABLE load_lane (
    run_id      VARCHAR(250) NOT NULL,
    lane        INTEGER      NOT NULL,
    stats       TEXT         NOT NULL,
    refused     TEXT         NOT NULL,
    updated_at  TIMESTAMP    NOT NULL,
    PRIMARY KEY (run_id, lane)
);
DROP TABLE load_group;
