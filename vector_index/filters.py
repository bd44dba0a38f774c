"""Milvus filter expressions from templates and typed parameters.

Filters are written as templates (``"content_type == {t} and id not in {ex}"``) with a dict of
parameters, never by pasting user text into a string. Newer Milvus servers bind such templates
themselves (``filter_params``, Milvus 2.5+), but Milvus Lite 3.2.2 (``unexpected character '{'``)
and the Milvus 2.3.5 server (``token recognition error at: '}'``) reject them (re-measured
2026-11-30, docs/search.md), so the parameters are bound here, in one place, by an
encoder that accepts only typed values: ints, floats, lists of ints, and strings from an allowlist.
Anything else raises ``FilterError`` before it reaches Milvus.
"""

from __future__ import annotations

import json
import operator
import re
import string
from collections.abc import Collection, Mapping, Sequence
from typing import SupportsIndex

from gfm.errors import GfmError

__all__ = ["FilterError", "TypeFilter", "bind_filter", "check_content_type"]

# The grammar a stored content type may follow; it is also checked against the allowlist.
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_\-. ]{1,64}$")
_FORMATTER = string.Formatter()


class FilterError(GfmError):
    """A filter parameter that is not allowed; ``value`` is the offending value."""

    def __init__(self, message: str, *, value: object, allowed: Sequence[str] | None = None) -> None:
        self.value = value
        self.allowed = list(allowed) if allowed is not None else None
        tail = f"; allowed: {self.allowed}" if self.allowed is not None else ""
        super().__init__(f"{message}: {value!r}{tail}")


def check_content_type(value: str, allowed: Collection[str]) -> str:
    """Return ``value`` if it is one of the collection's known content types.

    Raises:
        FilterError: For any other value (typos and injection attempts alike).

    """
    if value not in allowed or not _SAFE_TEXT.match(value):
        raise FilterError("unknown content type", value=value, allowed=sorted(allowed))
    return value


class TypeFilter:
    """An allowlisted string parameter (a content type, a language...)."""

    __slots__ = ("value",)

    def __init__(self, value: str, allowed: Collection[str]) -> None:
        self.value = check_content_type(value, allowed)


def _literal(name: str, value: object) -> str:
    if isinstance(value, TypeFilter):
        return json.dumps(value.value)  # double-quoted; the grammar above admits no quote/backslash
    if isinstance(value, bool):
        raise FilterError(f"parameter {name!r} must not be a bool", value=value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(_as_int(name, v)) for v in value) + "]"
    raise FilterError(f"parameter {name!r} has an unsupported type {type(value).__name__}", value=value)


def _as_int(name: str, value: object) -> int:
    # numpy integers are not ``int`` but implement ``__index__``; bools, floats and text are refused
    if isinstance(value, bool | float | str) or not isinstance(value, SupportsIndex):
        raise FilterError(f"parameter {name!r} must be a list of ints", value=value)
    return operator.index(value)


def bind_filter(template: str, params: Mapping[str, object]) -> str:
    """Bind typed parameters into a filter template.

    Args:
        template: A filter with ``{name}`` placeholders, written by the programmer.
        params: Values for every placeholder: ``TypeFilter``, int, float or a list of ints.

    Returns:
        The filter expression for Milvus.

    Raises:
        FilterError: If a parameter is missing, unused or of a type that is not allowed.

    """
    out: list[str] = []
    used: set[str] = set()
    for text, field, spec, conv in _FORMATTER.parse(template):
        out.append(text)
        if field is None:
            continue
        if spec or conv or field not in params:
            raise FilterError("filter template placeholder is unknown or formatted", value=field)
        used.add(field)
        out.append(_literal(field, params[field]))
    unused = set(params) - used
    if unused:
        raise FilterError("filter parameters not used by the template", value=sorted(unused))
    return "".join(out)
