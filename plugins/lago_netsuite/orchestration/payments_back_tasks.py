"""The task of the ``lago_netsuite_payments_back`` DAG; its body calls :mod:`lago_netsuite.payments_back.flow`.

Imported at DAG parse time: only ``airflow.sdk`` and the cheap ``dag_support`` at module level.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

from lago_netsuite.orchestration.dag_support import LAGO_CONN_ID, NETSUITE_CONN_ID, NETSUITE_POOL, fail_fast

log = logging.getLogger(__name__)


def _stamp(value: Any, end: bool) -> str | None:
    """A form date as the listing's ISO 8601 UTC bound (the end date inclusive, to its last second)."""
    if not value:
        return None
    text = str(value)[:10]
    return f"{text}T23:59:59Z" if end else f"{text}T00:00:00Z"


@task(pool=NETSUITE_POOL)
def payments_back(**context: Any) -> dict[str, Any]:
    """NetSuite payments since the watermark (or the form's dates) → Lago manual payments; the report."""
    from airflow.sdk.exceptions import AirflowFailException

    from lago_netsuite.hooks.lago import LagoHook
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.orchestration.dag_tasks import run_context
    from lago_netsuite.payments_back import flow as back

    params = context.get("params") or {}
    ctx = run_context(context)
    if not back.enabled(ctx.settings):
        log.info("payments back is off: set \"payments_back_enabled\": true in the lago_netsuite_settings Variable")
        return {"enabled": False}
    with fail_fast():
        report = back.run(ctx, netsuite=NetSuiteRestletHook(NETSUITE_CONN_ID), lago=LagoHook(LAGO_CONN_ID),
                          since=_stamp(params.get("start_date"), False), until=_stamp(params.get("end_date"), True))
    log.info("payments back report\n%s", back.render_text(report))
    if report["failed"]:
        first = report["failed"][0]
        raise AirflowFailException(f"{len(report['failed'])} NetSuite payment application(s) failed to reach Lago; "
                                   f"first: {first['reference']}: {first['reason']}")
    return {"enabled": True, "went_back": len(report["went_back"]), "failed": 0,
            "waiting": len(report["waiting"]), "flagged": len(report["flagged_for_accountant"])}
