"""Apply ``airflow_settings.yaml`` (Astronomer CLI format) to the local Airflow.

Creates or updates the connections, pools and variables it lists, then migrates the sync store
named by the ``lago_netsuite_store`` connection. ``${VAR}`` in string values is expanded from the
environment (the demo's SQLite path uses ``${AIRFLOW_HOME}``). Idempotent.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return os.path.expandvars(value)
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def read_settings(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Parse the file into ``{"connections": [...], "pools": [...], "variables": [...]}``."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = raw.get("airflow") or {}
    return {key: _expand(section.get(key) or []) for key in ("connections", "pools", "variables")}


def connection_kwargs(item: dict[str, Any]) -> dict[str, Any]:
    """Map one Astro connection entry to ``airflow.models.Connection`` keyword arguments."""
    extra = item.get("conn_extra")
    return {
        "conn_id": item["conn_id"],
        "conn_type": item.get("conn_type") or "generic",
        "host": item.get("conn_host") or None,
        "schema": item.get("conn_schema") or None,
        "login": item.get("conn_login") or None,
        "password": item.get("conn_password") or None,
        "port": item.get("conn_port") or None,
        "extra": json.dumps(extra) if isinstance(extra, dict) else (extra or None),
    }


def apply(path: Path) -> dict[str, list[str]]:
    """Create or update everything the file lists; return the names touched per kind."""
    # The ORM models, not the Task SDK classes: this writes Airflow's metadata database directly.
    from airflow.models import Connection, Pool, Variable  # noqa: AIR311
    from airflow.utils.session import create_session

    settings = read_settings(path)
    done: dict[str, list[str]] = {"connections": [], "pools": [], "variables": []}
    with create_session() as session:
        for item in settings["connections"]:
            kwargs = connection_kwargs(item)
            existing = (
                session.query(Connection).filter(Connection.conn_id == kwargs["conn_id"]).one_or_none()  # noqa: AIR311
            )
            if existing is not None:
                session.delete(existing)
                session.flush()
            session.add(Connection(**kwargs))  # noqa: AIR311
            done["connections"].append(kwargs["conn_id"])
        for item in settings["pools"]:
            Pool.create_or_update_pool(
                name=item["pool_name"],
                slots=int(item["pool_slot"]),
                description=item.get("pool_description") or "",
                include_deferred=False,
                session=session,
            )
            done["pools"].append(item["pool_name"])
        for item in settings["variables"]:
            Variable.set(item["variable_name"], item["variable_value"], session=session)  # noqa: AIR311
            done["variables"].append(item["variable_name"])
    return done


def migrate_store() -> str:
    """Apply the sync store's migrations; return the store URL without its password."""
    from lago_netsuite.ledger import migrations, store

    url = store.store_url_from_connection()
    migrations.migrate(store.get_engine(url))
    return store.redacted(url)


def main(argv: list[str] | None = None) -> None:
    """``python -m lago_netsuite.cli.airflow_settings apply airflow_settings.yaml``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["apply"])
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    done = apply(args.path)
    print(
        f"    connections: {', '.join(done['connections'])}; pools: {', '.join(done['pools'])}; "
        f"variables: {', '.join(done['variables'])}"
    )
    print(f"    sync store: {migrate_store()}")


if __name__ == "__main__":
    main()
