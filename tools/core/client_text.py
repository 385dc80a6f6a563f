"""Text a client sends that ends up inside a written file: validated for where it goes.

A revision message lands in the new file's docstring (and, slugged, in its name); a custom
``script.py.mako`` may also put it in a comment or a string literal. Quotes, backslashes and control
characters are what would let it leave any of those places, so they are refused, not escaped: the
caller learns what to change instead of getting a file that says something else.
"""

from __future__ import annotations

import unicodedata

from alembic_mcp.tools.core.errors import InvalidArgument

MAX_MESSAGE = 200
QUOTES = {'"': "double quote", "'": "single quote", "`": "backtick"}


def validate_message(message: object, example: str) -> str:
    """A one-line revision message without quotes, backslashes, slashes or control characters."""
    if not isinstance(message, str) or not message.strip():
        raise InvalidArgument(f"message is empty. Pass a short description of the change, e.g. {example!r}.")
    if "/" in message or "\\" in message:
        raise InvalidArgument(
            f"message contains a path separator (slash or backslash); Alembic puts it in the file name. "
            f"Use plain words, e.g. {example!r}."
        )
    if any(unicodedata.category(ch).startswith("C") for ch in message):
        raise InvalidArgument(
            f"message contains a newline or another control character; use one line of plain words, e.g. {example!r}."
        )
    quotes = sorted({name for ch, name in QUOTES.items() if ch in message})
    if quotes:
        raise InvalidArgument(
            f"message contains a {' and a '.join(quotes)}: it goes into the migration's docstring, where a "
            f"quote could end the text early. Use plain words without quotes, e.g. {example!r}."
        )
    if len(message) > MAX_MESSAGE:
        raise InvalidArgument(f"message is {len(message)} characters long; keep it under {MAX_MESSAGE}.")
    return message.strip()
