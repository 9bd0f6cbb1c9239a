"""The sync ledger inside Airflow's UI: documents, one document, retries, reconciliation, a run's documents."""

from __future__ import annotations

from typing import Any

from lago_netsuite.ui.links import URL_PREFIX

__all__ = ["URL_PREFIX", "LazyApp"]


class LazyApp:
    """The UI's ASGI app, built on its first request.

    Every Airflow component imports plugin files, but only the API server serves this app: building
    it lazily keeps the FastAPI/auth-manager imports out of the scheduler, dag-processor and tasks.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from lago_netsuite.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)
