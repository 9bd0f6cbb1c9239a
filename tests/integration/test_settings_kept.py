# ruff: noqa: AIR311 - the ORM models, as airflow_settings itself uses them
"""``./dev setup`` (airflow_settings apply) creates what is missing and never resets what a user changed."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow]

ROOT = Path(__file__).resolve().parents[2]


def test_settings_a_user_changed_survive_setup_and_replace_says_what_it_replaces(airflow_db, tmp_path) -> None:
    from airflow.models import Connection, Variable  # noqa: AIR311
    from airflow.utils.session import create_session

    from lago_netsuite_dev.cli.airflow_settings import apply

    settings = ROOT / "airflow_settings.yaml"
    with create_session() as session:  # a clean slate for the three objects the file lists
        session.query(Variable).filter(Variable.key == "lago_netsuite_settings").delete()
        session.query(Connection).filter(Connection.conn_id.in_(  # noqa: AIR311
            ["lago_default", "netsuite_default", "lago_netsuite_store"])).delete()
    first = apply(settings)
    assert "variable lago_netsuite_settings" in first["created"] and "connection lago_default" in first["created"]

    # the user edits the Variable and the Lago connection in the UI
    with create_session() as session:
        session.query(Variable).filter(Variable.key == "lago_netsuite_settings").one().set_val('{"batch_size": 7}')
        conn = session.query(Connection).filter(Connection.conn_id == "lago_default").one()  # noqa: AIR311
        conn.host = "https://lago.example.com/api/v1"

    again = apply(settings)  # ./dev setup, ./dev ui and ./dev demo all run this
    assert again["created"] == [] and again["replaced"] == []
    assert {"variable lago_netsuite_settings", "connection lago_default"} <= set(again["kept"])
    with create_session() as session:
        assert session.query(Variable).filter(Variable.key == "lago_netsuite_settings").one().val == \
            '{"batch_size": 7}'
        assert session.query(Connection).filter(  # noqa: AIR311
            Connection.conn_id == "lago_default").one().host == "https://lago.example.com/api/v1"

    replaced = apply(settings, replace=True)  # ./dev setup --replace
    said = "\n".join(replaced["replaced"])
    assert '{"batch_size": 7}' in said and "lago.example.com" in said
    assert "sandbox-lago-api-key" not in said and "token_secret" not in said  # secrets are not echoed
    with create_session() as session:
        value = session.query(Variable).filter(Variable.key == "lago_netsuite_settings").one().val
        assert '"batch_size": 25' in value
