"""Lay out an Astro project for lago-netsuite-sync: what ``astro deploy`` / ``docker build`` needs, nothing else.

    python -m lago_netsuite_dev.cli.astro_project build DEST

writes into DEST (which must not exist, or be empty):

- ``Dockerfile`` and ``requirements.txt`` from ``deploy/astro/`` (the Astro Runtime matching the
  pinned Airflow; the sync's own dependencies at the lock's versions),
- ``packages.txt`` (empty: no system packages),
- ``dags/``, ``plugins/``, ``include/`` of this repository (without caches),
- ``airflow_settings.yaml``: the sandbox connections, pool and Variable, for ``astro dev start``
  on a laptop only (Astro never deploys this file; production connections come from a secrets
  backend, docs/deployment.md),
- ``.dockerignore``.

Tests, benchmarks, the RESTlet's sources and the dev lock stay out of the image.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from lago_netsuite import paths

COPIED_TREES = ("dags", "plugins", "include")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache")
DOCKERIGNORE = """\
# Everything the image does not need.
**/__pycache__
**/*.pyc
.astro/
.env
airflow_settings.yaml
"""


def build(dest: Path, project: Path = paths.PROJECT_ROOT) -> list[str]:
    """Write the Astro project into ``dest``; return the top-level names written."""
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"{dest} is not empty: choose a new folder for the Astro project")
    dest.mkdir(parents=True, exist_ok=True)
    astro = project / "deploy" / "astro"
    shutil.copyfile(astro / "Dockerfile", dest / "Dockerfile")
    shutil.copyfile(astro / "requirements.txt", dest / "requirements.txt")
    (dest / "packages.txt").write_text("", encoding="utf-8")
    for name in COPIED_TREES:
        shutil.copytree(project / name, dest / name, ignore=IGNORED)
    shutil.copyfile(project / "airflow_settings.yaml", dest / "airflow_settings.yaml")
    (dest / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    return sorted(p.name for p in dest.iterdir())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["build"])
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    names = build(args.dest)
    print(f"Astro project in {args.dest}: {', '.join(names)}")
    print(f"Next: cd {args.dest} && astro dev start   (or: docker build -t lago-netsuite-sync .)")


if __name__ == "__main__":
    main()
