"""What a deployment copies onto its workers is the product alone, laid out by the flow, without cycles.

``plugins/`` (the ``lago_netsuite`` package and the UI plugin file) is what a deployment ships; the
sandboxes and the ``./dev`` tools live in ``devtools/lago_netsuite_dev``. A copy of ``dags/``,
``plugins/`` and ``include/`` — as the Astro image holds them — must import every DAG and every
module the tasks use with ``devtools`` out of reach.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "plugins" / "lago_netsuite"
#: The flow, and the glue around it (the package's docstring describes each).
SUBPACKAGES = {"extract", "transform", "validate", "load", "ledger", "hooks", "payments_back", "orchestration", "ui"}

_DEPLOYMENT_PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys

class RefuseDevTools(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "lago_netsuite_dev" or name.startswith("lago_netsuite_dev."):
            raise ImportError(f"{name} is dev tooling, not part of a deployment")
        return None

sys.meta_path.insert(0, RefuseDevTools())
errors = {}
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1])
errors.update({k: str(v)[-500:] for k, v in bag.import_errors.items()})
dags = {d.dag_id: len(d.tasks) for d in bag.dags.values()}
import lago_netsuite
modules = []
for info in pkgutil.walk_packages(lago_netsuite.__path__, "lago_netsuite."):
    try:
        importlib.import_module(info.name)
        modules.append(info.name)
    except Exception as exc:
        errors[info.name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"dags": dags, "modules": modules, "errors": errors, "package": lago_netsuite.__file__,
                  "dev_loaded": sorted(m for m in sys.modules if m.startswith("lago_netsuite_dev"))}))
"""


def test_a_deployment_copy_imports_every_dag_and_module_without_dev_tools(tmp_path: Path) -> None:
    deployment = tmp_path / "usr-local-airflow"
    for tree in ("dags", "plugins", "include"):
        shutil.copytree(ROOT / tree, deployment / tree, ignore=shutil.ignore_patterns("__pycache__"))
    shipped = [p.relative_to(deployment) for p in (deployment / "plugins").rglob("*") if p.is_file()]
    assert not [p for p in shipped if "sandbox" in p.parts or "cli" in p.parts], "dev tooling in plugins/"
    imports_dev = ("import lago_netsuite_dev", "from lago_netsuite_dev")
    assert not [p for p in shipped if p.suffix == ".py" and any(s in p.read_text() for s in imports_dev)]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__CORE__PLUGINS"))}
    env.update(PYTHONPATH=f"{deployment / 'plugins'}{os.pathsep}{deployment}", AIRFLOW_HOME=str(tmp_path / "home"),
               LAGO_NETSUITE_INCLUDE_DIR=str(deployment / "include"),
               AIRFLOW__CORE__PLUGINS_FOLDER=str(deployment / "plugins"),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/airflow.db")
    out = subprocess.run([sys.executable, "-c", _DEPLOYMENT_PROBE, str(deployment / "dags")], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}, result["errors"]
    assert result["dev_loaded"] == []
    # the copy was imported, not the repository's package (nor an installed one)
    assert Path(result["package"]).is_relative_to(deployment)
    assert set(result["dags"]) == {
        "lago_netsuite_sync", "lago_netsuite_backfill", "lago_netsuite_catalog", "lago_netsuite_retry_document",
        "lago_netsuite_reconcile", "lago_netsuite_payments_back"}
    # every module of the package, the task bodies' run-time imports included
    expected = {".".join(("lago_netsuite", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
                for p in PACKAGE.rglob("*.py")} - {"lago_netsuite"}
    assert set(result["modules"]) == expected


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("lago_netsuite", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every ``lago_netsuite`` module ``name`` imports: at module level, in functions, under TYPE_CHECKING."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target.startswith("lago_netsuite") and target != name:
                found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(path, name, modules) for name, path in modules.items()}
    assert _cycles(graph) == []
    # the checker itself finds a cycle when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_sync_steps_and_the_transform_step_no_longer_import_each_other() -> None:
    modules = _modules()
    steps = _imports(modules["lago_netsuite.orchestration.steps"], "lago_netsuite.orchestration.steps", modules)
    run = _imports(modules["lago_netsuite.transform.run"], "lago_netsuite.transform.run", modules)
    assert "lago_netsuite.transform.run" in steps and "lago_netsuite.orchestration.steps" not in run
    assert "lago_netsuite.context" in run  # what both need lives beside them


def test_the_layout_follows_the_flow_and_no_name_does_two_jobs() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == SUBPACKAGES
    top_level = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    places: dict[str, list[str]] = defaultdict(list)
    for name in _modules():
        places[name.rsplit(".", 1)[-1]].append(name)
    # a top-level module's name is its job: no module or package elsewhere carries it
    assert {n: places[n] for n in top_level if len(places[n]) > 1} == {}
    # a package's name is its job: no module elsewhere is named after it
    assert {n: places[n] for n in SUBPACKAGES if len(places[n]) > 1} == {}
    # the stage packages may each have e.g. ``documents`` (extract / store / transform documents), but
    # one job never sits under two names in the same package
    assert all(len(set(v)) == len(v) for v in places.values())
