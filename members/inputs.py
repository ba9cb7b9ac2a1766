"""Checks of text and JSON that come from outside (the API, the program file, spreadsheets), shared
by every service that takes them.

A JSON string may hold a lone UTF-16 surrogate ("\\ud800"): Python keeps it, but it cannot be encoded
as UTF-8, so the database driver fails on it, and for a batch that failure would take every other
event of the batch with it. PostgreSQL text cannot hold NUL either. Nested JSON is walked without
recursion, to a fixed depth, so that a hostile document cannot exhaust the stack."""

from __future__ import annotations

import math
from typing import Any

# Deeper than any real event data or program file; a parser's recursion limit is near 1,000.
MAX_JSON_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored, or None."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text (no lone surrogates such as \\ud800)."
    return None


def json_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH, path: str = "") -> str | None:
    """Why this parsed JSON cannot be stored (a bad string or key anywhere, a number that is not
    finite, nesting deeper than `max_depth`), prefixed with where (`path.key[0]: ...`), or None."""
    pending: list[tuple[Any, int, str]] = [(value, 0, path)]
    while pending:
        item, depth, where = pending.pop()
        problem = None
        if depth > max_depth:
            problem = f"Nested more than {max_depth} levels deep."
        elif isinstance(item, str):
            problem = text_problem(item)
        elif isinstance(item, float) and not math.isfinite(item):
            problem = "Numbers must be finite."
        elif isinstance(item, dict):
            for key, child in item.items():
                key_text = str(key)
                if problem := text_problem(key_text):
                    break
                pending.append((child, depth + 1, f"{where}.{key_text}" if where else key_text))
        elif isinstance(item, list):
            pending.extend((child, depth + 1, f"{where}[{index}]") for index, child in enumerate(item))
        if problem:
            return f"{where}: {problem}" if where else problem
    return None


def nested_deeper_than(value: Any, max_depth: int) -> bool:
    """Whether lists and objects nest more than `max_depth` levels, walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > max_depth:
            return True
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return False
