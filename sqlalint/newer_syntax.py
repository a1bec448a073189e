"""Syntax newer than the running Python, read by ``ast`` all the same.

libcst reads the grammar of Python 3.14 on any version; CPython's ``ast`` reads only its
own. Pruning, the project index and a few analyses read a module with ``ast``: on Python
3.11, a module with a ``type X = ...`` statement, a ``def f[T]()`` or an ``except A, B:``
would be analysed whole and never indexed. :func:`parse` retries such a module with those
clauses rewritten in place into older syntax that has the same statements, on the same
lines, binding the same names (and ``_``): ``type X = v`` reads as ``_=   X = v``, the type
parameters of a ``def`` or ``class`` become spaces, ``except A, B:`` reads as
``except(A,B):``. Columns stay the same outside the rewritten clause.
"""
from __future__ import annotations

import ast
import re
import sys
from typing import Optional, Union

# ``type X = ...`` / ``type X[T] = ...`` at the start of a line.
_TYPE_ALIAS = re.compile(r"^([ \t]*)type([ \t]+)(?=[A-Za-z_]\w*[ \t]*[=\[])", re.M)
# A ``def`` or ``class`` whose name is followed by type parameters.
_TYPE_PARAMETERS = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+[A-Za-z_]\w*[ \t]*(?=\[)", re.M)
# ``except A, B:`` (Python 3.14), the clause alone on its line (a comment may follow).
_EXCEPT_TUPLE = re.compile(r"^([ \t]*except\*?)([ \t]+)(?![(\s])([^:#\r\n]*,[^:#\r\n]*?)([ \t]*):(?=[ \t]*(?:#|$))",
                           re.M)
_AS = re.compile(r"\bas\b")


def parse(source: Union[str, bytes]) -> ast.Module:
    """``ast.parse(source)``, or, when that fails on syntax newer than the running Python,
    the tree of :func:`older` ``source``; the first SyntaxError when neither parses."""
    try:
        return ast.parse(source)
    except SyntaxError as error:
        if sys.version_info >= (3, 14):
            raise
        first = error
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise first from None
    rewritten = older(source)
    if rewritten is None:
        raise first
    try:
        return ast.parse(rewritten)
    except SyntaxError:
        raise first from None


def older(text: str) -> Optional[str]:
    """``text`` with the clauses this module knows rewritten (same length, same lines);
    None when it holds none of them."""
    rewritten = _TYPE_ALIAS.sub(lambda m: m.group(1) + "_=" + " " * (2 + len(m.group(2))), text)
    rewritten = _blank_parameters(rewritten)
    rewritten = _EXCEPT_TUPLE.sub(_parenthesized, rewritten)
    return None if rewritten == text else rewritten


def _blank_parameters(text: str) -> str:
    """Each ``[...]`` after a ``def`` or ``class`` name, when it closes on its line and holds
    no string, as spaces (``def f   (x):`` parses)."""
    pieces, done = [], 0
    for match in _TYPE_PARAMETERS.finditer(text):
        start = match.end()
        end = _closing(text, start)
        if end is None:
            continue
        pieces.append(text[done:start])
        pieces.append(" " * (end - start))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _closing(text: str, start: int) -> Optional[int]:
    """Just past the ``]`` that closes the ``[`` at ``start``, on the same line; None if
    there is none, or a quote or a comment comes first."""
    depth = 0
    for position in range(start, len(text)):
        char = text[position]
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                return position + 1
        elif char in "\r\n\"'#":
            return None
    return None


def _parenthesized(match: "re.Match[str]") -> str:
    """``except A, B:`` as ``except(A,B):``: the ``(`` takes the space after ``except``,
    the ``)`` a space before the ``:`` or after a comma. Unchanged when there is none, or
    the clause binds a name (``as``: a syntax error in any version)."""
    head, gap, names, tail = match.groups()
    if _AS.search(names):
        return match.group(0)
    if tail:
        tail = tail[1:]
    elif ", " in names:
        names = names.replace(", ", ",", 1)
    else:
        return match.group(0)
    return f"{head}({' ' * (len(gap) - 1)}{names}){tail}:"
