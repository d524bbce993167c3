"""The rules engine: recognition (认定), accumulation (积累), conversion (转换), traces.

Pure functions over :class:`creditbank.standards.schemas.StandardsSet`; the rule
language is in :mod:`creditbank.rules.ast`, evaluation in :mod:`creditbank.rules.engine`.
Import submodules directly (this package imports nothing, to keep it cycle-free).
"""
