"""Pure pandas transforms: Lago documents -> NetSuite RESTlet contract records (no Airflow, no I/O)."""

from __future__ import annotations

from lago_netsuite.transform.batch import SystematicTransformError, transform_documents
from lago_netsuite.transform.mappings import MappingError, Mappings, load_mappings
from lago_netsuite.transform.model import TransformResult, TransformSettings

__all__ = ["MappingError", "Mappings", "SystematicTransformError", "TransformResult", "TransformSettings",
           "load_mappings", "transform_documents"]
