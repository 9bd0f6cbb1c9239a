"""Extraction from Lago: catalog, customers, documents by issuing-date window (generators, no pandas)."""
