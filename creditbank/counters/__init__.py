"""Exact counts of what the pipeline decided, for ``/metrics``: shared by every process.

A context that writes a row worth counting (the rules' evaluation log, the ledger's
entries) calls :func:`creditbank.counters.service.counters.add` in the same
transaction: an append-only delta row, so concurrent writers never wait on a hot
counter row and a rollback (or a rolled-back savepoint) takes its count with it.
A periodic job folds the deltas into one row per counter, so a scrape sums a few
rows, never the counted tables.
"""
