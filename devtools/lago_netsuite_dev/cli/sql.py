"""``./dev sql "SELECT ..."``: a read-only query against the sync store, printed as a table.

For accountants and support: which documents failed and why, what NetSuite id a document got.
Without an argument it prints the ledger's state counts.
"""

from __future__ import annotations

import argparse

import sqlalchemy as sa

DEFAULT = "SELECT kind, state, count(*) AS documents FROM sync_ledger GROUP BY kind, state ORDER BY kind, state"


def main(argv: list[str] | None = None) -> None:
    """Run one SELECT and print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("query", nargs="?", default=DEFAULT)
    args = parser.parse_args(argv)
    if not args.query.lstrip().lower().startswith(("select", "with")):
        raise SystemExit("only SELECT queries: the store is changed by the DAGs alone")
    from lago_netsuite.ledger.runtime import store_engine

    with store_engine().connect() as conn:
        result = conn.execute(sa.text(args.query))
        columns = list(result.keys())
        rows = [["" if v is None else str(v) for v in row] for row in result]
    widths = [min(60, max([len(c), *(len(r[i]) for r in rows)])) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)))
    print(f"({len(rows)} rows)")


if __name__ == "__main__":
    main()
