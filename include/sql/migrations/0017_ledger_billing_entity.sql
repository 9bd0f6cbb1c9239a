-- 0017: each ledger row carries its billing entity (issue 14), so the ledger UI's billing-entity
-- filter and its counts per state read an index instead of probing document and customer per row.
-- A document's is its customer's (found through the stored Lago document; a sales order comes from
-- an invoice), a customer row's its own; the sync keeps it current (ledger/billing_entities.py).
ALTER TABLE sync_ledger ADD COLUMN billing_entity_code VARCHAR(255);
UPDATE sync_ledger SET billing_entity_code = (
    SELECT c.billing_entity_code
    FROM lago_document d JOIN lago_customer c ON c.external_id = d.customer_external_id
    WHERE d.kind = CASE WHEN sync_ledger.kind = 'salesorder' THEN 'invoice' ELSE sync_ledger.kind END
      AND d.lago_id = sync_ledger.lago_id
    LIMIT 1
) WHERE kind <> 'customer';
UPDATE sync_ledger SET billing_entity_code = (
    SELECT c.billing_entity_code FROM lago_customer c WHERE c.lago_id = sync_ledger.lago_id LIMIT 1
) WHERE kind = 'customer';
CREATE INDEX ix_sync_ledger_entity_created ON sync_ledger (billing_entity_code, created_at, external_id);
CREATE INDEX ix_sync_ledger_entity_state ON sync_ledger (billing_entity_code, state);
