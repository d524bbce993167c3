"""Load generators for a running server: ``creditbank bench ingest`` and ``bench query``."""
