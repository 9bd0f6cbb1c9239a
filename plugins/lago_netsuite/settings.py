"""Sync settings: how much to fetch, how to batch, where to look — never credentials.

They live in the Airflow Variable ``lago_netsuite_settings`` (JSON), so a data engineer changes
them without a deploy; every key is optional. Credentials live only in connections.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from lago_netsuite import paths
from lago_netsuite.hooks.errors import ConfigurationError

VARIABLE_KEY = "lago_netsuite_settings"
ALL_KINDS = ("customer", "invoice", "creditnote", "payment")
UNRESOLVED_POLICIES = ("fail", "warn")


@dataclass(frozen=True)
class SyncSettings:
    """Knobs of the sync. Defaults suit a NetSuite account with 5 concurrent requests."""

    mapping_file: str = "mappings/netsuite_mapping.yaml"  # relative to include/ unless absolute
    batch_size: int = 25  # records per RESTlet call
    load_parallelism: int = 5  # load lanes of a run, each one slot of the netsuite_restlet pool
    slice_invoices: int = 200  # invoices the extraction hands on to transform and load at a time
    lookback_days: int = 3  # re-read issuing-date windows this far back (late finalisations)
    detail_fetch_workers: int = 8  # concurrent invoice detail fetches (within Lago's rate limit)
    sync_start_date: str | None = None  # ISO date: documents issued before it are never synced
    max_attempts: int = 8  # transient failures of one document before it is marked failed
    retry_backoff_minutes: int = 5  # first wait before retrying a transient failure; doubles
    kinds: tuple[str, ...] = ALL_KINDS
    data_docs_dir: str | None = None  # default: $AIRFLOW_HOME/data_docs
    # Documents left failed, quarantined or waiting longer than ``long_waiting_hours`` by any run:
    # "fail" ends every run red while one remains; "warn" keeps the run green with a warning note.
    unresolved_policy: str = "fail"
    long_waiting_hours: int = 24
    extra: dict[str, Any] = field(default_factory=dict)

    def mapping_path(self) -> str:
        """Absolute path of the mapping file."""
        from pathlib import Path

        path = Path(self.mapping_file)
        return str(path if path.is_absolute() else paths.include_dir() / path)

    def data_docs_path(self) -> str:
        """Where Great Expectations writes the Data Docs of each run."""
        return self.data_docs_dir or str(paths.airflow_home() / "data_docs")

    @classmethod
    def from_mapping(cls, values: dict[str, Any], *, source: str = VARIABLE_KEY) -> SyncSettings:
        """Build settings from a dict, naming ``source`` and the key in any error."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                extra[key] = value
                continue
            kwargs[key] = value
        for key in ("batch_size", "load_parallelism", "slice_invoices", "lookback_days",
                    "detail_fetch_workers", "max_attempts", "retry_backoff_minutes", "long_waiting_hours"):
            if key in kwargs and (not isinstance(kwargs[key], int) or isinstance(kwargs[key], bool)
                                  or kwargs[key] < (0 if key == "lookback_days" else 1)):
                raise ConfigurationError(f"{source}: {key} must be a positive integer, got {kwargs[key]!r}")
        if "batch_size" in kwargs and kwargs["batch_size"] > 500:
            raise ConfigurationError(f"{source}: batch_size is at most 500 records per RESTlet call")
        if kwargs.get("unresolved_policy", "fail") not in UNRESOLVED_POLICIES:
            raise ConfigurationError(f"{source}: unresolved_policy must be one of {UNRESOLVED_POLICIES}, "
                                     f"got {kwargs['unresolved_policy']!r}")
        if "kinds" in kwargs:
            kinds = tuple(kwargs["kinds"])
            unknown = set(kinds) - set(ALL_KINDS)
            if unknown:
                raise ConfigurationError(f"{source}: kinds has unknown values {sorted(unknown)}; use {ALL_KINDS}")
            kwargs["kinds"] = kinds
        if kwargs.get("sync_start_date"):
            import datetime as dt

            try:
                dt.date.fromisoformat(str(kwargs["sync_start_date"]))
            except ValueError as exc:
                raise ConfigurationError(f"{source}: sync_start_date must be YYYY-MM-DD") from exc
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_airflow(cls) -> SyncSettings:
        """Read the Variable (at task run time, never at DAG parse time)."""
        from airflow.sdk import Variable

        raw = Variable.get(VARIABLE_KEY, default=None)
        if raw in (None, ""):
            return cls()
        try:
            values = raw if isinstance(raw, dict) else json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"Variable {VARIABLE_KEY} is not valid JSON: {exc}") from exc
        if not isinstance(values, dict):
            raise ConfigurationError(f"Variable {VARIABLE_KEY} must be a JSON object")
        return cls.from_mapping(values)
