"""CSV/xlsx onboarding: column mapping, preview, idempotent import through the LRS service."""
