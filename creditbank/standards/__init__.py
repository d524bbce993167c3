"""Standards (标准): qualification framework, unit catalog, institution mappings, rules.

Pure data handling: :func:`creditbank.standards.loader.load_standards` reads a set
directory into a validated, hashed :class:`creditbank.standards.schemas.StandardsSet`.
"""
