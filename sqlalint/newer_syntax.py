"""Syntax newer than the running Python, read by ``ast`` all the same.

libcst reads the grammar of Python 3.14 on any version; CPython's ``ast`` reads only its
own. Pruning, the project index and a few analyses read a module with ``ast``: on Python
3.11, a module with a ``type X = ...`` statement, a ``def f[T]()`` or an ``except A, B:``
would be analysed whole and never indexed. :func:`parse` retries such a module with those
clauses rewritten in place into older syntax that has the same statements, on the same
lines, binding the same names (and ``_``): ``type X = v`` reads as ``_=   X = v``, the type
parameters of a ``def`` or ``class`` become spaces, ``except A, B:`` reads as
``except(A,B):``, and a 3.12 f-string whose fields use its own quote gets the other one.
Columns stay the same outside the rewritten clause.
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
_EXCEPT_TUPLE = re.compile(r"^([ \t]*except\*?)([ \t]+)(?![(\s])([^:#\r\n]*+):(?=[ \t]*(?:#|$))", re.M)
_AS = re.compile(r"\bas\b")


def parse(source: Union[str, bytes]) -> ast.Module:
    """``ast.parse(source)``, or, when that fails on syntax newer than the running Python,
    the tree of ``source`` with the newer clauses rewritten (:func:`older`); the first
    SyntaxError when neither parses."""
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
    rewritten, error = _clauses(source), first
    try:
        if rewritten != source:
            return ast.parse(rewritten)
    except SyntaxError as later:
        error = later
    # Requoting scans every character in Python: only once ``ast`` says it is an f-string.
    requoted = _requoted(rewritten) if "f-string" in str(error.msg) else None
    if requoted is None:
        raise first
    try:
        tree = ast.parse(requoted)
    except SyntaxError:
        raise first from None
    if not _fstrings_where_they_were(tree, requoted, rewritten):
        raise first
    return tree


def older(text: str) -> Optional[str]:
    """``text`` with the clauses this module knows rewritten (same length, same lines);
    None when it holds none of them."""
    rewritten = _clauses(text)
    rewritten = _requoted(rewritten) or rewritten
    return None if rewritten == text else rewritten


def _clauses(text: str) -> str:
    """``text`` with its type aliases, type parameters and unparenthesized except tuples
    rewritten (regular expressions: cheap)."""
    rewritten = _TYPE_ALIAS.sub(lambda m: m.group(1) + "_=" + " " * (2 + len(m.group(2))), text)
    rewritten = _blank_parameters(rewritten)
    return _EXCEPT_TUPLE.sub(_parenthesized, rewritten)


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
    head, gap, names = match.groups()
    stripped = names.rstrip(" \t")
    names, tail = stripped, names[len(stripped):]
    if "," not in names or _AS.search(names):
        return match.group(0)
    if tail:
        tail = tail[1:]
    elif ", " in names:
        names = names.replace(", ", ",", 1)
    else:
        return match.group(0)
    return f"{head}({' ' * (len(gap) - 1)}{names}){tail}:"


# -- f-strings (3.12): a replacement field may use the f-string's own quote ------------------
# ``f'{', '.join(names)}'`` reads on 3.11 as ``f"{', '.join(names)}"``: when the fields of a
# single-quoted f-string use its quote, and nothing in it uses the other, its two quotes
# are swapped. A field holding a backslash, a comment or a line break (all 3.12) is left.

_PREFIX = re.compile(r"(?<![\w])([rRbBuUfF]{1,2})?(\'\'\'|\"\"\"|'|\")")
_F_PREFIXES = frozenset({"f", "rf", "fr"})


class _GiveUp(Exception):
    pass


def _requoted(text: str) -> Optional[str]:
    """``text`` with the quotes of each 3.12-only f-string swapped; None when it has none,
    or the scan is unsure of anything."""
    swaps: list[tuple[int, int]] = []
    try:
        position = 0
        while True:
            position = _next_string(text, position)
            if position < 0:
                break
            position = _string(text, position, swaps, 0)
    except _GiveUp:
        return None
    if not swaps:
        return None
    chars = list(text)
    for start, end in swaps:
        other = '"' if chars[start] == "'" else "'"
        chars[start] = chars[end] = other
    return "".join(chars)


def _next_string(text: str, position: int) -> int:
    """Where the next string literal (its prefix) starts, skipping comments; -1 if none."""
    length = len(text)
    while position < length:
        char = text[position]
        if char == "#":
            end = text.find("\n", position)
            position = length if end < 0 else end
            continue
        if char in "'\"":
            return position
        if char.isalpha() or char == "_":
            start = position
            while position < length and (text[position].isalnum() or text[position] == "_"):
                position += 1
            if position < length and text[position] in "'\"" and position - start <= 2 and \
                    all(c in "rRbBuUfF" for c in text[start:position]):
                return start
            continue
        position += 1
    return -1


def _string(text: str, start: int, swaps: list[tuple[int, int]], depth: int) -> int:
    """Read the string literal at ``start`` (its prefix first); just past its end. Records
    in ``swaps`` the (opening, closing) quote positions of an f-string to requote."""
    match = _PREFIX.match(text, start)
    if match is None or depth > 4:
        raise _GiveUp
    prefix, quote = (match.group(1) or "").lower(), match.group(2)
    formatted = "f" in prefix
    position, length = match.end(), len(text)
    reuses = False
    while True:
        if position >= length:
            raise _GiveUp
        if text.startswith(quote, position):
            end = position + len(quote)
            break
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "\n" and len(quote) == 1:
            raise _GiveUp
        if formatted and char == "{":
            if text.startswith("{{", position):
                position += 2
                continue
            position, reused = _field(text, position + 1, quote, swaps, depth)
            reuses = reuses or reused
            continue
        position += 1
    if reuses:
        body = text[match.end():position]
        if len(quote) != 1 or prefix not in _F_PREFIXES or ('"' if quote == "'" else "'") in body:
            raise _GiveUp
        swaps.append((match.end() - 1, position))
    return end


def _field(text: str, position: int, quote: str, swaps: list[tuple[int, int]], depth: int) -> tuple[int, bool]:
    """Read a replacement field from just after its ``{``; (just past its ``}``, whether a
    string in it uses ``quote``)."""
    nesting, reused, length = 0, False, len(text)
    while position < length:
        char = text[position]
        if char in "\\#\r\n":
            raise _GiveUp  # 3.12 only, and nothing to requote
        if char in "([{":
            nesting += 1
        elif char in ")]}":
            if nesting == 0:
                if char != "}":
                    raise _GiveUp
                return position + 1, reused
            nesting -= 1
        elif char in "'\"rRbBuUfF":
            found = _PREFIX.match(text, position)
            if found is not None:
                reused = reused or found.group(2)[0] == quote[0]
                before = len(swaps)
                position = _string(text, position, swaps, depth + 1)
                del swaps[before:]  # an f-string inside a field is left as it is
                continue
        position += 1
    raise _GiveUp


def _fstrings_where_they_were(tree: ast.Module, rewritten: str, original: str) -> bool:
    """Did requoting keep every f-string it requoted an f-string, where it was? Each
    requoted one must start a JoinedStr of ``tree`` (a mistaken scan would move strings)."""
    opened = {(node.lineno, node.col_offset) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)}
    changed = [i for i, (new, old) in enumerate(zip(rewritten, original))
               if new != old and new in "'\"" and old in "'\""]
    for opening in changed[0::2]:
        start = opening
        while start > 0 and rewritten[start - 1] in "rRbBuUfF":
            start -= 1
        line_start = rewritten.rfind("\n", 0, start) + 1
        where = (rewritten.count("\n", 0, start) + 1, len(rewritten[line_start:start].encode("utf-8")))
        if where not in opened:
            return False
    return True
