"""Apply ``airflow_settings.yaml`` (Astronomer CLI format) to the local Airflow.

Creates the connections, pools and variables it lists that Airflow does not have yet — what a user
changed is never reset; ``--replace`` overwrites, saying what it replaces — then migrates the sync
store named by the ``lago_netsuite_store`` connection. ``${VAR}`` in string values is expanded from
the environment (the demo's SQLite path uses ``${AIRFLOW_HOME}``). Idempotent.
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


def _describe_connection(conn: Any) -> str:
    """A connection as a person recognises it, without its password or secret extras."""
    extra = conn.extra_dejson if conn.extra else {}
    keys = ", ".join(sorted(k for k in extra if not _secret(k)))
    return f"type {conn.conn_type}, host {conn.host or '-'}" + (f", extra {keys}" if keys else "")


def _secret(key: str) -> bool:
    return any(word in key.lower() for word in ("secret", "password", "token", "key"))


def apply(path: Path, *, replace: bool = False) -> dict[str, list[str]]:
    """Create what the file lists and Airflow lacks; keep what exists unless ``replace``.

    A Variable, connection or pool a user changed (in the UI, the CLI or a secrets backend) is
    never silently reset: it is reported as kept. With ``replace=True`` the file's value replaces
    it and the returned ``replaced`` entries say what was there before (secrets left out).
    Returns names per outcome: ``created``, ``kept``, ``replaced``.
    """
    # The ORM models, not the Task SDK classes: this writes Airflow's metadata database directly.
    from airflow.models import Connection, Pool, Variable  # noqa: AIR311
    from airflow.utils.session import create_session

    settings = read_settings(path)
    done: dict[str, list[str]] = {"created": [], "kept": [], "replaced": []}
    with create_session() as session:
        for item in settings["connections"]:
            kwargs = connection_kwargs(item)
            name = f"connection {kwargs['conn_id']}"
            existing = (
                session.query(Connection).filter(Connection.conn_id == kwargs["conn_id"]).one_or_none()  # noqa: AIR311
            )
            if existing is not None:
                if not replace:
                    done["kept"].append(name)
                    continue
                done["replaced"].append(f"{name} (was {_describe_connection(existing)})")
                session.delete(existing)
                session.flush()
            else:
                done["created"].append(name)
            session.add(Connection(**kwargs))  # noqa: AIR311
        for item in settings["pools"]:
            name = f"pool {item['pool_name']}"
            existing_pool = session.query(Pool).filter(Pool.pool == item["pool_name"]).one_or_none()
            if existing_pool is not None and not replace:
                done["kept"].append(name)
                continue
            if existing_pool is not None:
                done["replaced"].append(f"{name} (was {existing_pool.slots} slots)")
            else:
                done["created"].append(name)
            Pool.create_or_update_pool(
                name=item["pool_name"],
                slots=int(item["pool_slot"]),
                description=item.get("pool_description") or "",
                include_deferred=False,
                session=session,
            )
        for item in settings["variables"]:
            name = f"variable {item['variable_name']}"
            row = session.query(Variable).filter(Variable.key == item["variable_name"]).one_or_none()  # noqa: AIR311
            if row is not None and not replace:
                done["kept"].append(name)
                continue
            if row is not None:
                done["replaced"].append(f"{name} (was {row.val})")
            else:
                done["created"].append(name)
            Variable.set(item["variable_name"], item["variable_value"], session=session)  # noqa: AIR311
    return done


def migrate_store() -> str:
    """Apply the sync store's migrations; return the store URL without its password."""
    from lago_netsuite.ledger import migrations, store

    url = store.store_url_from_connection()
    migrations.migrate(store.get_engine(url))
    return store.redacted(url)


def main(argv: list[str] | None = None) -> None:
    """``python -m lago_netsuite_dev.cli.airflow_settings apply airflow_settings.yaml``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["apply"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--replace", action="store_true",
                        help="overwrite existing connections, pools and variables with the file's values")
    args = parser.parse_args(argv)
    done = apply(args.path, replace=args.replace)
    if done["created"]:
        print(f"    created: {', '.join(done['created'])}")
    if done["kept"]:
        print(f"    kept as they are (changed values are never reset; ./dev setup --replace overwrites them): "
              f"{', '.join(done['kept'])}")
    for entry in done["replaced"]:
        print(f"    REPLACED {entry}")
    print(f"    sync store: {migrate_store()}")


if __name__ == "__main__":
    main()
