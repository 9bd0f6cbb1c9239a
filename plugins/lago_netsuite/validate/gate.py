"""The validation gate: Great Expectations suites over the transform's frames, then the split.

``run_gate`` validates one check frame per record kind (one row per document, see ``checks``),
passes on the records of documents that met every expectation, and quarantines each failing
document with the names of the expectations it failed, merged with the transform's own
quarantine. Every run's results are kept as Data Docs (HTML) under ``data_docs_dir``, so an
accountant can open ``index.html`` and see which expectation failed for which document.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lago_netsuite.transform.batch import gc_paused
from lago_netsuite.transform.model import QUARANTINE_COLUMNS, TransformResult
from lago_netsuite.validate import checks, suites

log = logging.getLogger(__name__)

GATE_QUARANTINE_COLUMNS = [*QUARANTINE_COLUMNS, "failed_expectations"]
RESULTS_SUBDIR = "_validation_results"
INDEX_LIMIT = 500  # validation results listed on the Data Docs index (newest first)
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["external_id"],
                 "return_unexpected_index_query": False, "partial_unexpected_count": 20}


@dataclass
class GateResult:
    """What passed the gate and what was held back.

    Attributes:
        records: the transform's records of documents that passed every expectation.
        quarantined: documents held back by the transform or the gate, with ``reasons`` and the
            names of the expectations they failed (``failed_expectations``).
        summary: one row per (suite, expectation): success and how many documents failed it.
        data_docs_index: the Data Docs ``index.html`` of the run (None if none was built).
        run_id: the run name the results are stored under.
    """

    records: pd.DataFrame
    quarantined: pd.DataFrame
    summary: pd.DataFrame
    data_docs_index: Path | None
    run_id: str
    suites: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """True when no document was held back by the gate (transform quarantine aside)."""
        return bool(self.summary.empty or self.summary["success"].all())


def _gx() -> Any:
    """Import Great Expectations quietly (no analytics, no progress bars) only when needed."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _context(data_docs_dir: Path) -> Any:
    """An in-memory GX context whose validation results and Data Docs live under ``data_docs_dir``."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites={"lago_netsuite": {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "validation_results_limit": INDEX_LIMIT},
        }},
    )
    config.stores[config.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(data_docs_dir / RESULTS_SUBDIR)},
    }
    return gx.get_context(mode="ephemeral", project_config=config)


def _suite_plan(result: TransformResult) -> list[tuple[str, pd.DataFrame, list[suites.Check]]]:
    """(suite name, check frame, checks) for every record kind present in the batch."""
    tax_mode = result.settings.tax_mode if result.settings else "suitetax"
    plan = []
    for kind in checks.TRANSACTION_KINDS:
        plan.append((kind, checks.transaction_checks(result, kind), suites.transaction_checks(kind, tax_mode)))
    plan.append(("payment", checks.payment_checks(result), suites.payment_checks()))
    plan.append(("customer", checks.customer_checks(result), suites.customer_checks()))
    plan.append(("void", checks.void_checks(result), suites.void_checks()))
    return [(name, frame, cs) for name, frame, cs in plan if not frame.empty]


def _failures(res: Any, frame: pd.DataFrame, kind: str, plan: list[suites.Check]) -> tuple[list[tuple[str, ...]],
                                                                                         list[dict[str, Any]]]:
    """``(external_id, kind, name, description)`` per failing document, and the summary rows."""
    failures: list[tuple[str, ...]] = []
    summary: list[dict[str, Any]] = []
    by_name = {c.name: c for c in plan}
    for r in res.results:
        name = (r.expectation_config.meta or {}).get("name", r.expectation_config.type)
        check = by_name.get(name)
        description = check.description if check else ""
        errors = _exceptions(r.exception_info)
        raised = bool(errors)
        if raised:
            # An expectation that could not run proves nothing: hold back every document it covers.
            message = errors[0][:200]
            ids = frame["external_id"].tolist()
            description = f"{description} (could not be evaluated: {message})"
        else:
            ids = [row.get("external_id") for row in (r.result or {}).get("unexpected_index_list") or []]
        failures += [(eid, kind, name, description) for eid in dict.fromkeys(ids)]
        summary.append({"suite": kind, "expectation": name, "success": bool(r.success) and not raised,
                        "failed_documents": len(set(ids)), "evaluated": len(frame), "description": description})
    return failures, summary


def _exceptions(info: Any) -> list[str]:
    """Messages of the exceptions an expectation raised (GX nests them per metric)."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message") or "error")] if info.get("raised_exception") else []
    return [m for v in info.values() for m in _exceptions(v)]


def run_gate(result: TransformResult, *, data_docs_dir: str | Path, run_id: str) -> GateResult:
    """Validate the transform's frames, split the records, and write Data Docs.

    Args:
        result: the output of ``transform_documents``.
        data_docs_dir: where the HTML Data Docs (and the stored validation results) go; the
            project uses ``$AIRFLOW_HOME/data_docs/``.
        run_id: names this run in the Data Docs (e.g. the Airflow run id).

    Returns:
        The records that passed and every held-back document with its reasons and the names of
        the expectations it failed.
    """
    with gc_paused():
        return _run_gate(result, Path(data_docs_dir), run_id)


def _run_gate(result: TransformResult, docs_dir: Path, run_id: str) -> GateResult:
    """The body of :func:`run_gate` (run with the garbage collector paused)."""
    gx = _gx()
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier

    docs_dir.mkdir(parents=True, exist_ok=True)
    run_name = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_") or "run"
    context = _context(docs_dir)
    source = context.data_sources.add_pandas("lago_netsuite")
    failures: list[tuple[str, ...]] = []
    summary: list[dict[str, Any]] = []
    frames: dict[str, pd.DataFrame] = {}
    for kind, frame, plan in _suite_plan(result):
        frames[kind] = frame
        batch = source.add_dataframe_asset(kind).add_batch_definition_whole_dataframe("batch")
        suite = context.suites.add(gx.ExpectationSuite(name=f"lago_netsuite_{kind}", expectations=[
            getattr(gxe, c.expectation)(**c.kwargs, meta={"name": c.name}, description=c.description)
            for c in plan]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{kind}-{run_name}", data=batch, suite=suite))
        res = definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT,
                             run_id=RunIdentifier(run_name=run_name))
        f, s = _failures(res, frame, kind, plan)
        failures += f
        summary += s
        log.info("gate %s: %s documents, %s failing", kind, len(frame), len({x[0] for x in f}))
    index = _build_docs(context, run_name) if frames else None
    return _split(result, frames, failures, summary, index, run_name)


def _build_docs(context: Any, run_name: str) -> Path | None:
    """Render this run's validation results (and the index) into the Data Docs site."""
    keys = [k for k in context.validation_results_store.list_keys() if k.run_id.run_name == run_name]
    sites = context.build_data_docs(resource_identifiers=keys)
    url = sites.get("lago_netsuite")
    return Path(url.removeprefix("file://")) if url else None


def _who(kind: Any, number: Any, lago_id: Any, external_id: Any) -> str:
    """A document as reasons name it: ``invoice INV-2024-001`` (or its Lago id, or externalId)."""
    name = next((v for v in (number, lago_id, external_id) if isinstance(v, str) and v.strip()), "?")
    if kind == "payment" and isinstance(lago_id, str) and lago_id.strip() and name != lago_id:
        name = f"{name}, Lago id {lago_id}"  # a payment's reference is not unique: its Lago id says which
    return f"{_KIND_LABELS.get(kind, kind)} {name}"


_KIND_LABELS = {"creditnote": "credit note", "salesorder": "sales order", "void": "void of"}


def _split(result: TransformResult, frames: dict[str, pd.DataFrame], failures: list[tuple[str, ...]],
           summary: list[dict[str, Any]], index: Path | None, run_name: str) -> GateResult:
    """Passed records, and the merged quarantine (transform reasons + failed expectations)."""
    fail = pd.DataFrame(failures, columns=["external_id", "kind", "name", "description"], dtype=object)
    ident = pd.concat([f[["external_id", "lago_id", "number"]] for f in frames.values()], ignore_index=True) \
        if frames else pd.DataFrame(columns=["external_id", "lago_id", "number"])
    ident = ident.drop_duplicates("external_id")
    gate_q = pd.DataFrame(columns=GATE_QUARANTINE_COLUMNS)
    if len(fail):
        fail["reason"] = "gate: " + fail["name"] + " — " + fail["description"]
        grouped = fail.groupby("external_id", sort=False).agg(kind=("kind", "first"), reasons=("reason", list),
                                                              failed_expectations=("name", list)).reset_index()
        gate_q = grouped.merge(ident, on="external_id", how="left")[GATE_QUARANTINE_COLUMNS]
        # Like the transform's own reasons, each names its document: the ledger and the run report
        # show a reason on its own, and "the transaction date is present" alone says not which.
        gate_q["reasons"] = [[f"{r} ({_who(k, n, lid, eid)})" for r in rs] for rs, k, n, lid, eid in zip(
            gate_q["reasons"], gate_q["kind"], gate_q["number"], gate_q["lago_id"], gate_q["external_id"],
            strict=True)]
    transform_q = result.quarantined.assign(failed_expectations=[[] for _ in range(len(result.quarantined))])
    quarantined = pd.concat([transform_q[GATE_QUARANTINE_COLUMNS], gate_q], ignore_index=True)
    records = result.records[~result.records["external_id"].isin(set(fail["external_id"]))].reset_index(drop=True)
    summary_df = pd.DataFrame(summary, columns=["suite", "expectation", "success", "failed_documents", "evaluated",
                                                "description"])
    return GateResult(records=records, quarantined=quarantined.reset_index(drop=True), summary=summary_df,
                      data_docs_index=index, run_id=run_name, suites=frames)
