"""Loading records into NetSuite through the RESTlet, with per-record tracking in the ledger."""
