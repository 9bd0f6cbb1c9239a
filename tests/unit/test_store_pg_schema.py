"""The sync store in its own PostgreSQL schema (``pg_schema``), beside other applications' tables."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from lago_netsuite.hooks.errors import ConfigurationError
from lago_netsuite.ledger import catalog, migrations, schema, store


@pytest.mark.postgres
def test_the_store_migrates_and_works_inside_its_own_schema_leaving_public_alone(postgres_url: str) -> None:
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA lago_sync"))
        conn.execute(sa.text("CREATE TABLE public.other_app (id int)"))  # someone else's table
    url = store.with_search_path(postgres_url, "lago_sync")
    engine = store.get_engine(url)
    try:
        applied = migrations.migrate(engine)
        assert applied == [m.version for m in migrations.discover()]
        assert migrations.migrate(engine) == []  # once each, also through the schema
        inspector = sa.inspect(admin)
        in_schema = set(inspector.get_table_names(schema="lago_sync"))
        assert {t.name for t in schema.metadata.sorted_tables} | {"schema_migrations"} <= in_schema
        assert inspector.get_table_names(schema="public") == ["other_app"]
        result = catalog.upsert_catalog_objects(engine, "tax", [{"lago_id": "t1", "code": "vat", "rate": "20"}],
                                                run_id="r1")
        assert result.as_dict() == {"inserted": 1, "changed": 0, "unchanged": 0}
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT code FROM lago_sync.lago_catalog_object")).scalars().all() == ["vat"]
    finally:
        store.dispose_engines()
        admin.dispose()


def test_pg_schema_in_the_store_connection_sets_the_search_path(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAGO_NETSUITE_STORE", json.dumps({
        "conn_type": "postgres", "host": "db", "login": "sync", "password": "pw", "schema": "warehouse",
        "extra": {"pg_schema": "lago_sync"}}))
    url = sa.engine.make_url(store.store_url_from_connection())
    assert (url.host, url.database, url.query["options"]) == ("db", "warehouse", "-csearch_path=lago_sync")
    monkeypatch.setenv("AIRFLOW_CONN_LAGO_NETSUITE_STORE", json.dumps({"conn_type": "generic", "extra": {
        "sqlalchemy_url": "postgresql+psycopg://u@h/d", "pg_schema": "lago_sync"}}))
    assert sa.engine.make_url(store.store_url_from_connection()).query["options"] == "-csearch_path=lago_sync"


@pytest.mark.parametrize(("url", "pg_schema", "reason"), [
    ("postgresql+psycopg://u@h/d", "lago_sync; DROP TABLE x", "not a lower-case SQL identifier"),
    ("postgresql+psycopg://u@h/d", "Lago-Sync", "not a lower-case SQL identifier"),
    ("sqlite:////tmp/s.db", "lago_sync", "PostgreSQL store only"),
])
def test_a_bad_pg_schema_is_refused_naming_the_connection(url: str, pg_schema: str, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=f"lago_netsuite_store.*{reason}|{reason}.*lago_netsuite_store"):
        store.with_search_path(url, pg_schema)


@pytest.mark.postgres
def test_a_store_table_that_grew_much_is_analyzed_once_so_the_planner_knows_its_size(postgres_url: str) -> None:
    import time

    from lago_netsuite.ledger import documents

    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA lago_sync"))
    engine = store.get_engine(store.with_search_path(postgres_url, "lago_sync"))
    tables = (schema.document.name, schema.ledger.name)
    try:
        migrations.migrate(engine)
        assert store.refresh_statistics(engine, tables) == []  # empty: nothing to learn
        docs = [{"lago_id": f"inv-{i:05d}", "number": f"N-{i}", "issuing_date": "2026-11-30"} for i in range(3000)]
        documents.store_documents(engine, "invoice", docs, run_id="r1")
        look = sa.text("SELECT s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s JOIN pg_class c "
                       "ON c.oid = s.relid WHERE s.schemaname = 'lago_sync' AND s.relname = 'lago_document'")
        deadline = time.monotonic() + 15
        with admin.connect() as conn:  # the server publishes its counters within a second or so
            while conn.execute(look).first()[0] < 3000 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert conn.execute(look).first()[1] <= 0  # never analyzed: the planner would guess it tiny
        assert store.refresh_statistics(engine, tables) == [schema.document.name]
        with admin.connect() as conn:
            changed, tuples = conn.execute(look).first()
        assert (changed, tuples) == (0, 3000)
        assert store.refresh_statistics(engine, tables) == []  # analyzed once, not at every look
    finally:
        store.dispose_engines()
        admin.dispose()
