"""The raw query string, and the verdict every request gets before any value is read.

A bad value, an unknown parameter, a NUL character or text that is not UTF-8, more
than :data:`MAX_PARAMS` parameters or :data:`MAX_VALUES` values of one is a
:class:`BadRequest` naming the parameter, which quotes at most :data:`ECHO_CHARS`
characters of what was sent and lists at most :data:`MAX_ERRORS` errors: however big
the input, the error stays small.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final
from urllib.parse import parse_qsl

#: name=value pairs in one query string, in all
MAX_PARAMS: Final = 200
#: values of one parameter, repeated and comma-separated together
MAX_VALUES: Final = 100
#: characters of one value: far more than any valid value (100 UUIDs, comma-separated)
MAX_VALUE_CHARS: Final = 4096
#: errors a 400 lists (it counts the others)
MAX_ERRORS: Final = 10
#: characters of a value or a parameter's name a 400 quotes back
ECHO_CHARS: Final = 64
_MAX_MESSAGE_CHARS: Final = 400


def shown(value: str) -> str:
    """A value as an error message quotes it: ``repr`` (so control characters are escaped)
    of at most :data:`ECHO_CHARS` characters, then "…" when there was more."""
    if len(value) > ECHO_CHARS:
        return repr(value[:ECHO_CHARS]) + "…"
    return repr(value)


def shown_name(name: str) -> str:
    """A parameter's name as a key of a 400's ``errors``: unprintable characters escaped
    (``seg\\x00ment``), at most :data:`ECHO_CHARS` characters, then "…" when there was more."""
    cut = name[:ECHO_CHARS]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in cut)
    return cut[:ECHO_CHARS] + "…" if len(name) > ECHO_CHARS or len(cut) > ECHO_CHARS else cut


class BadRequest(ValueError):
    """One or more bad parameters; ``errors`` maps each parameter (as :func:`shown_name`
    shows it) to what is wrong, at most :data:`MAX_ERRORS` of them; ``more`` counts the
    others. However big the input, the error stays small."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        items = [(shown_name(k), v if len(v) <= _MAX_MESSAGE_CHARS else v[:_MAX_MESSAGE_CHARS] + "…")
                 for k, v in errors.items()]
        self.errors = dict(items[:MAX_ERRORS])
        self.more = max(0, len(items) - MAX_ERRORS)
        text = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(text + (f"; and {self.more:,} more" if self.more else ""))


def parse_query_string(raw: bytes) -> list[tuple[str, str]]:
    """The name=value pairs of a raw query string, percent-decoded and read as UTF-8.

    Bytes that are not UTF-8 — a percent-encoded lone surrogate such as ``%ED%A0%80``, a
    Latin-1 ``%E9``, a cut ``%C3`` — are kept as lone surrogates (``surrogateescape``),
    which :func:`check_query` refuses, naming the parameter, where a lenient decoder
    would have put U+FFFD and searched for something nobody sent."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return [(_utf8(k), _utf8(v)) for k, v in pairs]


def _utf8(text: str) -> str:
    return text.encode("latin-1").decode("utf-8", "surrogateescape")


_UNUSABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """What makes ``text`` unusable as a parameter, or None: the NUL character (PostgreSQL
    refuses it in text) or a lone surrogate (not UTF-8 at all)."""
    m = _UNUSABLE.search(text)
    if m is None:
        return None
    if m.group() == "\x00":
        return "contains the NUL character (U+0000), which no parameter takes"
    return "is not valid UTF-8 text (a lone surrogate, or a byte that starts no character)"


def check_query(items: Iterable[tuple[str, str]], allowed: Sequence[str],
                where: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The parameters by name, and what is wrong with them before any value is read:
    unknown names, too many values of one, a NUL or a lone surrogate, a value too long to
    be any valid value. More than :data:`MAX_PARAMS` pairs in all is a
    :class:`BadRequest` at once, naming the parameters given most."""
    pairs = list(items)
    params = group_params(pairs)
    too_many = f"given {{:,}} values; at most {MAX_VALUES} values of one parameter"
    if len(pairs) > MAX_PARAMS:
        ranked = sorted(params.items(), key=lambda kv: -len(kv[1]))
        raise BadRequest({
            name: too_many.format(len(vals)) if len(vals) > MAX_VALUES else
            f"one of {len(pairs):,} parameters given; a query takes at most {MAX_PARAMS} parameters in all"
            for name, vals in ranked})
    errors: dict[str, str] = {}
    for name, vals in params.items():
        problem = text_problem(name)
        if problem:
            errors[name] = "the parameter's name " + problem
        elif name not in allowed:
            errors[name] = (f"not a parameter of {where} (allowed: {', '.join(allowed)})" if allowed
                            else f"not a parameter of {where} (it takes none)")
        elif len(vals) > MAX_VALUES:
            errors[name] = too_many.format(len(vals))
        else:
            for v in vals:
                problem = text_problem(v)
                if problem:
                    errors[name] = problem
                    break
                if len(v) > MAX_VALUE_CHARS:
                    errors[name] = f"a value of {len(v):,} characters; at most {MAX_VALUE_CHARS:,}"
                    break
    return {k: v for k, v in params.items() if k not in errors}, errors


def check_no_params(items: Iterable[tuple[str, str]], where: str) -> None:
    """An endpoint that takes no parameter: any is a :class:`BadRequest`."""
    _, errors = check_query(items, (), where)
    if errors:
        raise BadRequest(errors)


def group_params(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in items:
        out.setdefault(k, []).append(v)
    return out
