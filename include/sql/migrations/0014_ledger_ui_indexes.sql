-- 0014: indexes for the sync ledger UI (issue 14). Its documents table is sorted newest first
-- (created_at, external_id) and paginated by keyset, alone or after a state filter; its counts per
-- state are read from covering indexes after a kind and/or currency filter; its customer and
-- billing-entity filters look documents up by customer.
CREATE INDEX ix_sync_ledger_created ON sync_ledger (created_at, external_id);
CREATE INDEX ix_sync_ledger_state_created ON sync_ledger (state, created_at, external_id);
CREATE INDEX ix_sync_ledger_kind_currency_state ON sync_ledger (kind, currency, state);
CREATE INDEX ix_sync_ledger_currency_state ON sync_ledger (currency, state);
CREATE INDEX ix_lago_document_customer ON lago_document (customer_external_id);
CREATE INDEX ix_lago_customer_billing_entity ON lago_customer (billing_entity_code);
