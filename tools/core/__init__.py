"""Shared core: configuration, URLs, the verdict model, escalation policy, errors, progress and locks."""
