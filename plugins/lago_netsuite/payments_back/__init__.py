"""NetSuite payments flowing back to Lago: the flow (read NetSuite, record in Lago) and its ledger state."""
