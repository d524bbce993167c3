"""Start-up wiring every entry point calls (the app factory, the worker, the CLI).

Nothing here runs at import: an entry point calls :func:`register_data_rights` once
(calling it again is harmless), so which contexts take part in a learner's export
and erasure, and which listen to the domain events (:func:`register_event_handlers`,
called by it), is read here, in one place, instead of depending on which modules
happen to have been imported.
"""

from __future__ import annotations

from creditbank.conversions.service import conversions as conversions_service
from creditbank.identity.data_rights import register_eraser, register_exporter
from creditbank.kit.events import register_event_handler
from creditbank.ledger.service import ledger as ledger_service
from creditbank.lrs.documents.service import erase_learner_documents, export_learner_documents
from creditbank.lrs.service import export_learner_statements
from creditbank.reporting.service import reporting as reporting_service
from creditbank.rules.service import rules as rules_service
from creditbank.transcripts import status as transcript_status
from creditbank.transcripts.service import transcripts as transcripts_service
from creditbank.webhooks.service import forwarding as forwarding_service
from creditbank.webhooks.service import webhooks as webhooks_service

#: Learner data a context keeps when she is erased (beyond what its eraser leaves), and why
#: (docs/data-classification.md, "Erasure").
KEPT_ON_ERASURE: dict[str, str] = {
    "ledger": (
        "append-only and hash-chained (checkpoints sign its heads); names only the learner "
        "id, which erasure leaves without a person behind it"
    ),
    "lrs": (
        "statements are the institutions' learning records that outcomes cite and xAPI "
        "keeps immutable; without her links their agents no longer lead to her account"
    ),
    "transcripts": (
        "issued transcripts are signed and already in third parties' hands; they name only "
        "a pseudonymous subject (an HMAC of the learner id), never her identity"
    ),
    "rules": (
        "outcomes and evaluations are what the ledger's deposits and conversions rest on; "
        "they name only the learner id"
    ),
    "reporting": (
        "the dashboard's months of activity are derived from the ledger, which keeps her "
        "entries; they name only the learner id and are read only in aggregate"
    ),
}


def register_data_rights() -> None:
    """Each context holding learner data adds its part to her export and erasure.

    Section names are the keys of the export (``GET /api/v1/learners/{id}/export``);
    erasers run in the erasure transaction before identity deletes her links.
    """
    register_exporter("lrs_documents", export_learner_documents)
    register_eraser("lrs_documents", erase_learner_documents)
    register_exporter("lrs_statements", export_learner_statements)
    register_exporter("outcomes", rules_service.export_learner_data)
    register_exporter("ledger", ledger_service.export_learner_data)
    register_exporter("conversions", conversions_service.export_learner_data)
    register_exporter("transcripts", transcripts_service.export_learner_data)
    register_exporter("reporting", reporting_service.export_learner_data)
    register_eraser("conversions", conversions_service.erase_learner_data)
    register_event_handlers()


def register_event_handlers() -> None:
    """Listeners of the domain events (:mod:`creditbank.kit.events`) the contexts emit in
    their decisions' transactions; emitters import none of them."""
    register_event_handler("webhooks", webhooks_service.on_events)
    register_event_handler("forwarding", forwarding_service.on_events)
    # A revoked outcome revokes every transcript (and share) that contained it.
    register_event_handler("transcripts", transcript_status.on_events)
