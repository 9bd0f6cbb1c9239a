"""The sync store: migrations, schema agreement, idempotent catalog upserts (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import catalog, migrations, schema, store


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    eng = store.get_engine(url)
    yield eng
    store.dispose_engines()


def test_migrate_applies_every_file_once(engine) -> None:
    files = migrations.discover()
    assert [m.version for m in files] == sorted(m.version for m in files)
    applied = migrations.migrate(engine)
    assert applied == [m.version for m in files]
    assert migrations.migrate(engine) == []
    assert migrations.current_version(engine) == files[-1].version


def test_migrated_database_matches_the_core_metadata(engine) -> None:
    migrations.migrate(engine)
    inspector = sa.inspect(engine)
    for table in schema.metadata.sorted_tables:
        assert inspector.has_table(table.name), f"{table.name} is in schema.py but no migration creates it"
        db_cols = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(db_cols) == {c.name for c in table.columns}, table.name
        for col in table.columns:
            assert bool(db_cols[col.name]["nullable"]) == (col.nullable and not col.primary_key), (
                f"{table.name}.{col.name} nullability differs between migration and schema.py"
            )
        pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(pk) == {c.name for c in table.primary_key.columns}, table.name


def test_editing_an_applied_migration_is_refused(tmp_path: Path) -> None:
    mig_dir = tmp_path / "migrations"
    mig_dir.mkdir()
    (mig_dir / "0001_first.sql").write_text("CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n")
    eng = store.get_engine(f"sqlite:///{tmp_path / 's.db'}")
    assert migrations.migrate(eng, mig_dir) == [1]
    (mig_dir / "0001_first.sql").write_text("CREATE TABLE t1 (id INTEGER PRIMARY KEY, x TEXT);\n")
    with pytest.raises(migrations.MigrationError, match="0001_first.sql was edited"):
        migrations.migrate(eng, mig_dir)
    (mig_dir / "0001_first.sql").write_text("CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n")
    (mig_dir / "0002_second.sql").write_text("-- a comment; with a semicolon\nCREATE TABLE t2 (id INTEGER);\n")
    assert migrations.migrate(eng, mig_dir) == [2]
    store.dispose_engines()


@pytest.mark.parametrize(
    ("name", "ok"), [("0001_a.sql", True), ("1_a.sql", False), ("0001-a.sql", False)], ids=["ok", "short", "dash"]
)
def test_migration_file_names_are_checked(tmp_path: Path, name: str, ok: bool) -> None:
    (tmp_path / name).write_text("SELECT 1;")
    if ok:
        assert migrations.discover(tmp_path)[0].version == 1
    else:
        with pytest.raises(migrations.MigrationError, match="NNNN_name.sql"):
            migrations.discover(tmp_path)


def test_split_statements_ignores_comments() -> None:
    sql = "-- head; comment\nCREATE TABLE a (x INT); -- trailing; comment\n\nCREATE INDEX i ON a (x);\n"
    assert migrations.split_statements(sql) == ["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"]


def test_catalog_upsert_is_idempotent_and_tracks_changes(engine) -> None:
    migrations.migrate(engine)
    taxes = [{"lago_id": "t1", "code": "vat_20", "name": "VAT", "rate": "20.0"},
             {"lago_id": "t2", "code": "vat_5", "name": "VAT reduced", "rate": "5.0"}]
    first = catalog.upsert_catalog_objects(engine, "tax", taxes, run_id="r1")
    assert first.as_dict() == {"inserted": 2, "changed": 0, "unchanged": 0}
    again = catalog.upsert_catalog_objects(engine, "tax", taxes, run_id="r2")
    assert again.as_dict() == {"inserted": 0, "changed": 0, "unchanged": 2}
    taxes[1] = {**taxes[1], "rate": "5.5"}
    third = catalog.upsert_catalog_objects(engine, "tax", taxes + [taxes[0]], run_id="r3")
    assert third.as_dict() == {"inserted": 0, "changed": 1, "unchanged": 1}
    stored = {t["code"]: t for t in catalog.load_catalog(engine, "tax")}
    assert stored["vat_5"]["rate"] == "5.5"
    with engine.connect() as conn:
        runs = {r.code: r.last_run_id for r in conn.execute(sa.select(schema.catalog_object))}
    assert runs == {"vat_20": "r3", "vat_5": "r3"}


def test_customer_upsert_keeps_the_netsuite_link(engine) -> None:
    migrations.migrate(engine)
    customers = [
        {"lago_id": "c1", "external_id": "acme", "name": "Acme", "currency": "EUR",
         "integration_customers": [{"type": "netsuite", "external_customer_id": "7001"}]},
        {"lago_id": "c2", "external_id": "zoë", "firstname": "Zoë", "lastname": "Ångström", "currency": "KWD"},
    ]
    assert catalog.upsert_customers(engine, customers).inserted == 2
    with engine.connect() as conn:
        rows = {r.lago_id: r for r in conn.execute(sa.select(schema.customer))}
    assert rows["c1"].netsuite_customer_id == "7001"
    assert rows["c2"].netsuite_customer_id is None
    assert rows["c2"].name == "Zoë Ångström"
    assert catalog.catalog_counts(engine)["customer"] == 2


def test_a_bad_catalog_object_is_named_and_skipped_while_the_others_are_stored(engine) -> None:
    migrations.migrate(engine)
    objects = [{"lago_id": "x"}, {"code": "ok", "lago_id": "y"}, "junk"]
    counts = catalog.upsert_catalog_objects(engine, "coupon", objects)
    assert counts.as_dict() == {"inserted": 1, "changed": 0, "unchanged": 0, "invalid": 2}
    assert counts.invalid[0] == "Lago coupon without a code: lago_id='x'"
    customers = catalog.upsert_customers(engine, [{"lago_id": "c1"}, {"lago_id": "c2", "external_id": "e2"}])
    assert customers.inserted == 1
    assert customers.invalid == ["Lago customer without lago_id/external_id: lago_id='c1' external_id=None"]


def test_store_url_defaults_to_sqlite_under_airflow_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_LAGO_NETSUITE_STORE", raising=False)
    assert store.store_url_from_connection() == f"sqlite:///{tmp_path}/lago_netsuite_sync.db"


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        ('{"conn_type": "generic", "extra": {"sqlalchemy_url": "sqlite:////tmp/x.db"}}', "sqlite:////tmp/x.db"),
        ('{"conn_type": "postgres", "host": "db", "port": 5433, "login": "u", "password": "p", "schema": "sync"}',
         "postgresql+psycopg://u:p@db:5433/sync"),
        ('{"conn_type": "sqlite", "host": "/data/s.db"}', "sqlite:////data/s.db"),
    ],
    ids=["sqlalchemy-url", "postgres", "sqlite"],
)
def test_store_url_from_connection(monkeypatch, conn: str, expected: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAGO_NETSUITE_STORE", conn)
    assert store.store_url_from_connection() == expected


def test_store_connection_without_a_database_names_the_connection(monkeypatch) -> None:
    from lago_netsuite.hooks.errors import ConfigurationError

    monkeypatch.setenv("AIRFLOW_CONN_LAGO_NETSUITE_STORE", '{"conn_type": "http", "host": "x"}')
    with pytest.raises(ConfigurationError, match="lago_netsuite_store"):
        store.store_url_from_connection()


def test_redacted_hides_the_password() -> None:
    assert "secret" not in store.redacted("postgresql+psycopg://u:secret@h/db")


def test_the_billing_entity_migration_fills_the_rows_that_existed_before_it(tmp_path: Path) -> None:
    """0017 adds ``sync_ledger.billing_entity_code`` and fills it from the document's customer."""
    import shutil
    from datetime import datetime

    before = tmp_path / "before"
    before.mkdir()
    for m in migrations.discover():
        if m.version < 17:
            shutil.copy(m.path, before / m.path.name)
    eng = store.get_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrations.migrate(eng, before)
    now = datetime(2026, 1, 1)
    common = {"payload": "{}", "payload_hash": "0" * 64, "first_seen_at": now, "changed_at": now,
              "last_seen_at": now}
    row = {"record_type": "invoice", "action": "create", "state": "synced", "attempts": 0, "changed_after_sync": 0,
           "created_at": now, "updated_at": now}
    with eng.begin() as conn:
        conn.execute(sa.text("INSERT INTO lago_customer (lago_id, external_id, billing_entity_code, payload, "
                             "payload_hash, first_seen_at, changed_at, last_seen_at) VALUES "
                             "('c1', 'CUST-1', 'acme-fr', :payload, :payload_hash, :first_seen_at, :changed_at, "
                             ":last_seen_at)"), common)
        conn.execute(sa.text("INSERT INTO lago_document (kind, lago_id, customer_external_id, payload, payload_hash, "
                             "first_seen_at, changed_at, last_seen_at) VALUES ('invoice', 'i1', 'CUST-1', :payload, "
                             ":payload_hash, :first_seen_at, :changed_at, :last_seen_at)"), common)
        for ext, kind, lago_id in (("lago-invoice-i1", "invoice", "i1"), ("lago-salesorder-i1", "salesorder", "i1"),
                                   ("lago-customer-c1", "customer", "c1"), ("lago-invoice-i9", "invoice", "i9")):
            conn.execute(sa.text("INSERT INTO sync_ledger (external_id, kind, record_type, lago_id, action, state, "
                                 "attempts, changed_after_sync, created_at, updated_at) VALUES (:ext, :kind, "
                                 ":record_type, :lago_id, :action, :state, :attempts, :changed_after_sync, "
                                 ":created_at, :updated_at)"), {**row, "ext": ext, "kind": kind, "lago_id": lago_id})
    assert migrations.migrate(eng) == [m.version for m in migrations.discover() if m.version >= 17]
    with eng.connect() as conn:
        t = schema.ledger
        got = dict(conn.execute(sa.select(t.c.external_id, t.c.billing_entity_code)).all())
    assert got == {"lago-invoice-i1": "acme-fr", "lago-salesorder-i1": "acme-fr", "lago-customer-c1": "acme-fr",
                   "lago-invoice-i9": None}  # no stored Lago document: nothing to derive it from
