"""Analyse less: cut the definitions a finding cannot be in before libcst parses a file.

libcst costs about ten times CPython's ``ast`` per line, and most of a file that passes the
prefilter is functions and classes that no selected rule can report on (a models module
read for one legacy import, a service module for two ``.all()`` calls). Before libcst
parses such a file, :func:`prune` uses ``ast`` to find its definitions (module-level
functions and classes, and the methods of classes) and replaces each one that is *cold*
with a stub that binds the same name to a value inference does not know, on the same
lines:

    def helper(a, b):           helper=(...,\"\"\"
        ...              ->
        return a + b            \"\"\")[0]

A definition is cold when its text holds no *hot* pattern of the rules being run (their
report sites hold one: a ``.all()``, an ``execute``, a ``declarative`` import), no
``global``/``nonlocal`` (it could rebind a module name), and its name is nowhere in what is
kept (a kept function may call it, a kept class inherit from it). Everything else stays
byte for byte, so lines and columns of what is analysed are the original's, and the
module and class namespaces keep the same names (a stub's value is unknown to inference,
so rules stay silent about it). Offsets move: :meth:`Pruned.original` maps them back.

Only rules whose findings depend on the function they are in (and on module-level code,
which is never cut) allow pruning: those in prefilter.HOT. Fixing never prunes.
"""
from __future__ import annotations

import ast
import bisect
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Optional, Union

if TYPE_CHECKING:
    from sqlalint.prefilter import Hot

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_REBINDS = re.compile(r"\b(?:global|nonlocal)\b")
_WORD = re.compile(r"\w+")
# Python ends lines at \r, \n and \r\n only; \f and \v are whitespace to it but line breaks
# to str.splitlines: such files are analysed whole rather than reasoned about.
_ODD = re.compile(r"\r(?!\n)|[\f\v\x00]")


def enabled() -> bool:
    return os.environ.get("SQLALINT_NO_PRUNING", "") == ""


@dataclass
class Pruned:
    """What to analyse: ``text``, and where each stub of it was cut from the original."""

    text: str
    # (start in text, end in text, start in original, end in original) of each stub, in order
    cuts: list[tuple[int, int, int, int]] = field(default_factory=list)
    # The original parsed by ``ast``: its module-level statements end where ``text``'s do.
    tree: Optional[ast.Module] = None

    def original(self, offset: int) -> Optional[int]:
        """``offset`` in :attr:`text` as an offset in the original; None inside a stub
        (its edges map to the edges of what it replaced)."""
        i = bisect.bisect_right(self.cuts, (offset, float("inf"))) - 1
        if i < 0:
            return offset
        start, end, original_start, original_end = self.cuts[i]
        if offset == start:
            return original_start
        if offset < end:
            return None
        return offset - end + original_end


@dataclass
class _Definition:
    node: Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef]
    first: int  # 0-based line of its first decorator, or of the def/class keyword
    last: int  # 0-based, inclusive
    children: list["_Definition"]
    parent: Optional["_Definition"]
    keep: bool = False

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, ast.ClassDef)


def prune(text: str, hot: "Hot") -> Optional[Pruned]:
    """``text`` with its cold definitions stubbed; ``text`` itself when nothing is cut or it
    cannot be reasoned about (not valid Python for ``ast``); None when nothing in it, kept
    or not, matches ``hot``: no rule being run can report on it."""
    if _ODD.search(text):
        return Pruned(text)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Pruned(text)  # libcst reports (or rejects) it as it is
    lines = _LINE.findall(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    definitions = _definitions(tree.body, len(lines), None)
    hot = hot.bind(tree, text, starts)

    def hot_in(first: int, last: int, inner: list[_Definition], level: bool) -> bool:
        """Is any of lines ``first``..``last`` (of a module or class body when ``level``, of
        a function otherwise) hot? Marks the hot (and the rebinding) definitions among
        ``inner``, which are in those lines; each line is read once."""
        search = hot.search_level if level else hot.search
        found, line = False, first
        for definition in inner:
            found = line < definition.first and search(text, starts[line], starts[definition.first]) or found
            if hot_in(definition.first, definition.last, definition.children, definition.is_class):
                definition.keep = found = True
            elif _REBINDS.search(text, starts[definition.first], starts[definition.last + 1]):
                definition.keep = True
            line = definition.last + 1
        return line <= last and search(text, starts[line], starts[last + 1]) or found

    if not hot_in(0, len(lines) - 1, definitions, True):
        return None
    if not definitions:
        return Pruned(text, tree=tree)
    if hot.callers:
        _keep_callers(definitions, text, starts)
    # Keep what the kept text names, until that adds nothing.
    while True:
        pruned, kept = _render(text, lines, starts, definitions)
        if not _keep_named(definitions, set(_WORD.findall(kept))):
            break
    # Each stub is one statement that ends on the line its definition ended: where the
    # module's statements end, what positions are computed from, is the same. (A stub
    # libcst cannot parse makes the engine analyse the original.)
    pruned.tree = tree
    return pruned


def _definitions(body: list[ast.stmt], line_count: int, parent: Optional[_Definition]) -> list[_Definition]:
    found = []
    for node in body:
        if isinstance(node, _DEFINITIONS) and node.end_lineno is not None:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            last = node.end_lineno - 1
            if not 0 <= first <= last < line_count:
                continue
            definition = _Definition(node, first, last, [], parent)
            if definition.is_class:
                definition.children = _definitions(node.body, line_count, definition)
            found.append(definition)
    return found


def _keep_callers(definitions: list[_Definition], text: str, starts: list[int]) -> None:
    """Keep the functions that call a kept function (``db = get_db()``, where ``get_db``
    opens a Session), and their classes, until that adds nothing."""
    functions = list(_functions(definitions))
    while True:
        called = {d.node.name for d in functions if d.keep}
        if not called:
            return
        calls = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(called))) + r")[\s\\]*\(")
        added = False
        for definition in functions:
            if not definition.keep and calls.search(text, starts[definition.first], starts[definition.last + 1]):
                added = definition.keep = True
                parent = definition.parent
                while parent is not None:
                    parent.keep, parent = True, parent.parent
        if not added:
            return


def _functions(definitions: list[_Definition]) -> Iterator[_Definition]:
    for definition in definitions:
        if definition.is_class:
            yield from _functions(definition.children)
        else:
            yield definition


def _keep_named(definitions: list[_Definition], named: set[str]) -> bool:
    added = False
    for definition in definitions:
        if not definition.keep and definition.node.name in named:
            definition.keep = added = True
        if definition.keep:
            added = _keep_named(definition.children, named) or added
    return added


def _render(text: str, lines: list[str], starts: list[int],
            definitions: list[_Definition]) -> tuple[Pruned, str]:
    """The pruned text, and what of it is the original's (the stubs left out)."""
    cuts: list[tuple[int, int, int]] = []  # (first line, last line, definition) to stub

    def collect(found: list[_Definition]) -> None:
        for definition in found:
            if definition.keep:
                collect(definition.children)
            else:
                cuts.append((definition.first, definition.last, definition))  # type: ignore[arg-type]

    collect(definitions)
    cuts.sort(key=lambda cut: cut[0])
    pieces: list[str] = []
    done = 0  # original offset copied up to
    size = 0  # length of the pieces so far
    spans = []
    for first, last, definition in cuts:
        start, end = starts[first], starts[last + 1]
        pieces.append(text[done:start])
        size += start - done
        stub = _stub(lines, first, last, definition.node.name)  # type: ignore[attr-defined]
        pieces.append(stub)
        spans.append((size, size + len(stub), start, end))
        size += len(stub)
        done = end
    pieces.append(text[done:])
    return Pruned("".join(pieces), spans), "\n".join(pieces[0::2])


def _stub(lines: list[str], first: int, last: int, name: str) -> str:
    """One statement at the definition's indentation that binds ``name`` to a value
    inference does not know, ``name=...``, with the definition's other line breaks in a
    string (one token: cheaper for libcst than as many blank lines)."""
    head = lines[first]
    indent = head[:len(head) - len(head.lstrip(" \t"))]
    breaks = [_ending(line) for line in lines[first:last + 1]]
    if first == last:
        return f"{indent}{name}=...{breaks[0]}"
    return f'{indent}{name}=(...,"""' + "".join(breaks[:-1]) + '""")[0]' + breaks[-1]


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    return line[-1:] if line[-1:] in ("\n", "\r") else ""
