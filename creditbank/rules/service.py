"""The rules context's service: recognition and accumulation applied, outcomes kept in step.

A facade over the modules that do the work, so callers have one name to import
(``from creditbank.rules.service import rules as rules_service``):

- :mod:`creditbank.rules.recognition`: a stored statement in, an evaluation out;
  statements of unlinked actors held and released when the link is made;
- :mod:`creditbank.rules.outcomes`: outcomes stored with their ledger deposits
  (idempotency keys, so a job run twice never credits twice), revoked, read;
- :mod:`creditbank.rules.lifecycle`: voided statements' outcomes revoked (and the
  freed unit re-credited), outcomes expired;
- :mod:`creditbank.rules.explain`: why an outcome exists, why a statement was (not)
  recognised, dry runs;
- :mod:`creditbank.rules.reevaluation`: a new standards version applied to every
  learner (report first, then compensating entries).

The pure engine (:mod:`creditbank.rules.engine`) decides; none of this commits.
"""

from __future__ import annotations

from creditbank.rules import explain, lifecycle, outcomes, recognition, reevaluation
from creditbank.rules.recognition import Processed, StatementMissing
from creditbank.rules.reevaluation import Change, ReevaluationReport

__all__ = ["Change", "Processed", "ReevaluationReport", "RulesService", "StatementMissing", "rules"]


class RulesService:
    """Applies the standards in force to statements, and keeps outcomes in step."""

    # recognition
    process_statement = staticmethod(recognition.process_statement)
    process_statements = staticmethod(recognition.process_statements)
    release_held = staticmethod(recognition.release_held)
    # outcomes and the learner's record
    learner_record = staticmethod(outcomes.learner_record)
    list_outcomes = staticmethod(outcomes.list_outcomes)
    get_outcome = staticmethod(outcomes.get_outcome)
    outcomes_for = staticmethod(outcomes.outcomes_for)
    read_outcome = staticmethod(outcomes.read_outcome)
    is_active = staticmethod(outcomes.is_active)
    export_learner_data = staticmethod(outcomes.export_learner_data)
    # an outcome's life
    statement_voided = staticmethod(lifecycle.statement_voided)
    expiry_sweep = staticmethod(lifecycle.expiry_sweep)
    # explanations and dry runs
    explain_outcome = staticmethod(explain.explain_outcome)
    explain_statement = staticmethod(explain.explain_statement)
    dry_run = staticmethod(explain.dry_run)
    explain_outcome_for = staticmethod(explain.explain_outcome_for)
    explain_ledger_entry = staticmethod(explain.explain_ledger_entry)
    explain_statement_for = staticmethod(explain.explain_statement_for)
    dry_run_for = staticmethod(explain.dry_run_for)
    # a new standards version
    reevaluate = staticmethod(reevaluation.reevaluate)
    reevaluate_version = staticmethod(reevaluation.reevaluate_version)
    preview_content = staticmethod(reevaluation.preview_content)


rules = RulesService()
