-- 0014: indexes for the sync ledger UI (issue 14). Its documents table is sorted newest first
-- (created_at, external_id) and paginated by keyset, alone or after a state filter, and its
-- customer filter and reconciliation look documents up by customer and issuing date.
CREATE INDEX ix_sync_ledger_created ON sync_ledger (created_at, external_id);
CREATE INDEX ix_sync_ledger_state_created ON sync_ledger (state, created_at, external_id);
CREATE INDEX ix_sync_ledger_kind_created ON sync_ledger (kind, created_at, external_id);
CREATE INDEX ix_lago_document_customer ON lago_document (customer_external_id);
