"""Autofix: the review's mechanical fixes as edits of the migration files, applied and then verified.

``plan.py`` turns one file's findings into edits (one fixer module per fix family: ``literal.py`` for
fixes the rule already states as exact code, ``backfill.py`` for a required column the model gives a
default); ``edits.py`` applies an edit to source text; ``apply.py`` writes the files atomically,
reviews them again and rehearses them, restoring every file when the rehearsal fails.
"""
