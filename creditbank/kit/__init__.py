"""Shared building blocks: column types, clock, repository base."""
