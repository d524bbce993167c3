"""Job names -> job bodies in ``creditbank/<context>/tasks.py``.

Entries are import strings resolved on first use, so a worker starts even while a
context is being built; a job whose body cannot be found is dead-lettered with
the reason (replay it once the code is deployed).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import cast

from creditbank.jobs.context import BatchTaskHandler, TaskHandler

#: name -> "module:function". Contexts add their lines here.
JOBS: dict[str, str] = {
    "lrs.statement_stored": "creditbank.rules.tasks:statement_stored",
    "lrs.statement_voided": "creditbank.rules.tasks:statement_voided",
    "identity.link_created": "creditbank.rules.tasks:link_created",
    "rules.expiry_sweep": "creditbank.rules.tasks:expiry_sweep",
    "rules.reprocess_statement": "creditbank.rules.tasks:reprocess_statement",
    "jobs.purge_done": "creditbank.jobs.tasks:purge_done",
    "jobs.analyze_stale": "creditbank.jobs.tasks:analyze_stale",
    "jobs.ensure_partitions": "creditbank.jobs.tasks:ensure_partitions",
    "ledger.checkpoint": "creditbank.ledger.tasks:checkpoint",
    "counters.fold": "creditbank.counters.tasks:fold",
    "reporting.rollup": "creditbank.reporting.tasks:rollup",
    "conversions.webhook": "creditbank.conversions.tasks:deliver_webhook",
    "webhooks.deliver": "creditbank.webhooks.tasks:deliver",
    "webhooks.forward": "creditbank.webhooks.tasks:forward",
}

#: name -> "module:function" of a batch body (optional): claimed jobs of that name run
#: together in one transaction, falling back to the plain body one by one on error.
BATCH_JOBS: dict[str, str] = {
    "lrs.statement_stored": "creditbank.rules.tasks:statements_stored",
    "rules.reprocess_statement": "creditbank.rules.tasks:statements_stored",
}


class UnknownJob(LookupError):
    """No body is registered (or importable) for a job name."""


class Registry:
    """Resolves job names to handlers; tests may pass their own handlers."""

    def __init__(
        self,
        entries: Mapping[str, str] | None = None,
        handlers: Mapping[str, TaskHandler] | None = None,
        batch_entries: Mapping[str, str] | None = None,
    ) -> None:
        self._entries = dict(JOBS if entries is None else entries)
        self._handlers: dict[str, TaskHandler] = dict(handlers or {})
        # Tests that bring their own entries or handlers get no batch bodies unless asked.
        default_batches = BATCH_JOBS if entries is None and handlers is None else {}
        self._batch_entries = dict(default_batches if batch_entries is None else batch_entries)
        self._batch_handlers: dict[str, BatchTaskHandler] = {}
        # Names whose plain body was given explicitly: their batch body is not used.
        self._overridden: set[str] = set(handlers or {})

    def register(self, name: str, handler: TaskHandler) -> None:
        self._handlers[name] = handler
        self._overridden.add(name)

    def resolve_batch(self, name: str) -> BatchTaskHandler | None:
        """The batch body of ``name``, or None (run its jobs one by one)."""
        handler = self._batch_handlers.get(name)
        if handler is not None or name in self._overridden:
            return handler
        target = self._batch_entries.get(name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            handler = cast(BatchTaskHandler, getattr(module, attribute))
        except (ImportError, AttributeError):
            return None
        self._batch_handlers[name] = handler
        return handler

    def resolve(self, name: str) -> TaskHandler:
        handler = self._handlers.get(name)
        if handler is not None:
            return handler
        target = self._entries.get(name)
        if target is None:
            raise UnknownJob(f"no job body registered for {name!r}")
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            handler = cast(TaskHandler, getattr(module, attribute))
        except (ImportError, AttributeError) as exc:
            raise UnknownJob(f"job body {target} for {name!r} cannot be loaded: {exc}") from exc
        self._handlers[name] = handler
        return handler
