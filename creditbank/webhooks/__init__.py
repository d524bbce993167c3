"""Institutions' outgoing webhooks: subscriptions, signed deliveries, their log."""
