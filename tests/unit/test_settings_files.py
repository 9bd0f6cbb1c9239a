"""The settings a user is handed name every knob the README documents, with the code's defaults."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from lago_netsuite.settings import SyncSettings

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "airflow_settings.yaml", ROOT / "deploy" / "airflow_settings.production.yaml"]


def _readme_keys() -> list[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Settings", 1)[1].split("\n\n", 2)[2]
    return re.findall(r"^\| `([a-z_]+)` \|", table.split("\n\n", 1)[0], flags=re.M)


def _variable(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())["airflow"]
    variable = next(v for v in data["variables"] if v["variable_name"] == "lago_netsuite_settings")
    return json.loads(variable["variable_value"])


def test_the_readme_documents_every_field_of_the_settings() -> None:
    documented = set(_readme_keys())
    assert {f.name for f in dataclasses.fields(SyncSettings)} - {"extra"} <= documented


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_settings_variable_names_every_documented_key_with_the_default(path: Path) -> None:
    values = _variable(path)
    assert sorted(values) == sorted(_readme_keys()), f"{path.name}: keys differ from the README's table"
    parsed = SyncSettings.from_mapping(values, source=path.name)
    defaults = SyncSettings()
    for f in dataclasses.fields(SyncSettings):
        if f.name != "extra":
            assert getattr(parsed, f.name) == getattr(defaults, f.name), f"{path.name}: {f.name}"
    assert parsed.extra == {"payments_back_enabled": False, "late_changes": True, "reconcile_horizon_days": 90}
