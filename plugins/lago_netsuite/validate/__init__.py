"""The validation gate: Great Expectations suites over the transform's frames and the quarantine split.

Great Expectations is imported only when ``run_gate`` runs, so importing this package is cheap.
"""

from __future__ import annotations

from lago_netsuite.validate.gate import GateResult, run_gate

__all__ = ["GateResult", "run_gate"]
