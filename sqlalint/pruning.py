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
report sites hold one: a ``.all()``, an ``execute``, a ``declarative`` import; for a
function, SLA301 also asks :mod:`sqlalint.bounded` whether a chain there may read
unbounded), no ``global``/``nonlocal`` (it could rebind a module name), and its name is
nowhere in what is kept (a kept function may call it, a kept class inherit from it).
Everything else stays byte for byte, so lines and columns of what is analysed are the
original's, and the module and class namespaces keep the same names (a stub's value is
unknown to inference, so rules stay silent about it). Offsets move: :meth:`Pruned.original`
maps them back.

In a kept class, a cold class-level assignment to plain names on lines of its own (a model's
``title = db.Column(...)``) is stubbed the same way, ``title=...``, unless it binds a name
inference reads to tell a model and its table (``__tablename__``, ``id``).

Only rules whose findings depend on the function they are in (and on module-level code,
which is never cut) allow pruning: those in HOT. Fixing never prunes.
"""
from __future__ import annotations

import ast
import bisect
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from sqlalint import bounded, newer_syntax, sqla
from sqlalint.prefilter import Facts, Project, loads_here

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_ASSIGNMENTS = (ast.Assign, ast.AnnAssign)
# Class-level names inference reads to tell a model and its table (``__tablename__``,
# ``__table__``, ``__abstract__``, ``id``); other dunders configure the class: all stay.
_MODEL_NAMES = re.compile(r"__\w+__|id")
# What may follow a statement on its last line for the lines to be its own.
_LINE_END = re.compile(r"[ \t]*(?:#[^\r\n]*)?(?:\r\n|\r|\n)?")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_REBINDS = re.compile(r"\b(?:global|nonlocal)\b")
_WALRUS = re.compile(r":=")  # binds in the enclosing scope
_WORD = re.compile(r"\w+")
_NOT_BREAK = re.compile(r"[^\r\n]+")  # what is left of lines without it: their breaks
# A line that starts with ``#`` is a comment or inside a string: it names no binding
# (unless an f-string's field is on it: such text is read whole).
_COMMENT_LINE = re.compile(r"^[ \t]*#.*$", re.M)
_FSTRING_START = re.compile(r"(?<![\w])(?:[fF]|[rR][fF]|[fF][rR])[\"']")
# A lone \r, a form feed, a vertical tab or a NUL: where Python, libcst and _LINE could
# disagree on lines (or on parsing at all). Such a file is analysed whole.
_ODD = re.compile(r"\r(?!\n)|[\f\v\x00]")


# Where a finding of each rule can be. The rules listed report only on code
# that holds what their entry says, and what else decides a finding (and its fix) is in the
# same function, in module-level code, or in a definition it names. A file whose screened
# rules are all listed is analysed without its other definitions.
@dataclass(frozen=True)
class Where:
    # In a function's text; a condition is also given the function's ``ast`` node (None for
    # module-level or class-level code).
    inside: Union[None, str, Callable[[bytes, Optional[ast.AST]], bool]] = None
    level: Optional[str] = None  # in module-level or class-level code
    # Calls of what may open a Session (Hot.bind says what), and calls of functions that do.
    opens: bool = False
    # Uses of the names that module-level or class-level assignments matching ``level`` bind.
    uses: bool = False
    # Uses of what the module imports under a name matching this (``text as sql``).
    imported: Optional[str] = None
    # What decides a finding may be in a definition that the kept code names (a model
    # class, a function whose return is inferred): keep those too.
    named: bool = True
    # Reports class-level names bound to a call that inference follows anywhere (a local
    # function, an alias): keep every class that assigns a call, and every such assignment.
    level_calls: bool = False
    # Whether a kept function runs once depends on direct calls of it at import time, which
    # a cold definition's decorators, defaults or class body can make: keep every
    # definition, and class-level assignment, whose text calls a kept function.
    direct_callers: bool = False
    # What decides a finding in a method may be in any method of its class (a pool that
    # ``self`` holds, assigned in ``__init__``): keep every definition of a class one of
    # whose definitions is kept.
    whole_classes: bool = False


_ALL_OR_FOR = re.compile(rb"\ball\b|\bfor\b")
_SESSION_MAKERS = r"sessionmaker|async_sessionmaker|scoped_session|async_scoped_session"
_SPAWNS = (r"Thread|Timer|submit|map|apply|apply_async|map_async|imap|imap_unordered|starmap|starmap_async"
           r"|run_in_executor|to_thread|add_done_callback")
_ENGINE_MAKERS = r"create_engine|create_async_engine|engine_from_config|async_engine_from_config"

HOT: dict[str, Where] = {
    # An engine constructor (sqla.ENGINE_CONSTRUCTORS, by its last name, or what the module
    # imports one as) in a function that does not run once (lifetime.runs_once).
    "SLA101": Where(r"\b(?:" + _ENGINE_MAKERS + r")\b", imported=_ENGINE_MAKERS, direct_callers=True),
    # A session maker or registry built in a function that does not run once: as SLA101.
    "SLA206": Where(r"\b(?:" + _SESSION_MAKERS + r")\b", imported=_SESSION_MAKERS, direct_callers=True),
    # A call that runs a function in another thread (concurrency.spawns: a Thread or Timer,
    # a pool's or executor's method, run_in_executor, to_thread, add_done_callback); the
    # function it runs is a name the kept code uses, and a pool held by ``self`` is read
    # from the whole class.
    "SLA203": Where(r"\b(?:" + _SPAWNS + r")" + r"[\s\\]*\(", imported=r"Thread|Timer|to_thread",
                    whole_classes=True),
    # A cache decorator; its fix removes the import the decorator used (``functools``, or
    # ``lru_cache``) if nothing else uses it, so every use of those names stays.
    "SLA201": Where(r"cache", level=r"cache", imported=r"functools|cache|lru_cache|cached_property"),
    "SLA202": Where(level=r"Session|session|sessionmaker", uses=True, level_calls=True),  # its fix rewrites the uses
    "SLA204": Where(opens=True),  # ``x = <opener>()`` in a function
    # A module-level registry (module-level code always stays): the functions that use
    # it, and those that may call ``.remove()`` on it through a local alias or a function
    # that returns it (which the kept code names).
    "SLA205": Where(r"\bremove\b", level=r"scoped_session", uses=True),
    # Where a chain may load rows, unless ast shows every chain there bounded. (Its sites
    # are an ``.all()`` and a ``for``: bytes that name neither need no closer look.)
    "SLA301": Where(lambda text, function: _ALL_OR_FOR.search(text) is not None
                    and loads_here(Facts(text), sessions=True)
                    and (function is None or bounded.may_report(function))),
    "SLA302": Where(r"\blen\b"),
    "SLA401": Where(r"(?:execute|exec_driver_sql|text)" + r"[\s\\]*\(", imported=r"text"),
    "SLA402": Where(r"execute[\s\\]*\("),
    "SLA501": Where(r"MetaData|declarative_base", imported=r"MetaData|declarative_base"),  # ``as M``
    "SLA502": Where(r"declarative", named=False),  # an import statement decides alone
}
_CALL = r"[\s\\]*\("
_SESSION_WORD = r"(?i:session)"
# Calls that may open a Session (Hot.bind, ``opens``): a name that says ``session`` called
# by itself (a local or imported function, a class); through an attribute, only what
# inference can follow there: SQLAlchemy's own (``orm.Session(...)``) and the project's
# names (``deps.get_db()``, added per project). ``repo.from_session(s)`` is neither.
_SESSION_CALL = re.compile(r"[sS][eE][sS][sS][iI][oO][nN]\w*" + _CALL)  # [sS]: the engine skips to it
_API_OPENERS = sorted({q.rpartition(".")[2] for q in (
    *sqla.SESSION_CLASSES, *sqla.ASYNC_SESSION_CLASSES, *sqla.SESSIONMAKERS, *sqla.ASYNC_SESSIONMAKERS,
    *sqla.SCOPED_SESSIONS)})


class Hot:
    """Where a finding of some rules can be: ``search(text, start, end)`` in a function's
    text, ``search_level`` in module-level or class-level code (as a compiled regular
    expression's search: patterns, and conditions on the bytes of that span).

    :meth:`bind` adds what depends on the module. With ``opens``: calls of what may open a
    Session (a name that says ``session`` called by itself, SQLAlchemy's and ``project``'s
    session and engine names, the names the module binds to one of those), and a function
    that calls a hot function is hot too (``callers``). With ``uses``: uses of the names that
    module-level or class-level assignments bind to what ``level`` (or ``project``) names.
    With ``imported``: uses of what the module imports under a matching name. ``named``:
    keep the definitions that the kept code names. ``level_calls``: keep the classes that
    assign a call at class level, and those assignments. ``direct_callers``: keep what calls
    a kept function by its name."""

    def __init__(self, patterns: Sequence[str], places: Sequence[Callable[[bytes, Optional[ast.AST]], bool]],
                 level: Sequence[str], project: frozenset = frozenset(), *, opens: bool = False,
                 uses: bool = False, imported: Sequence[str] = (), callers: bool = False, named: bool = True,
                 level_calls: bool = False, direct_callers: bool = False, whole_classes: bool = False):
        self.patterns, self.level_patterns = tuple(patterns), tuple(level)
        self.opens, self.uses, self.callers, self.named = opens, uses, callers, named
        self.level_calls, self.direct_callers, self.whole_classes = level_calls, direct_callers, whole_classes
        self.imported = re.compile(r"(?:^|\.)(?:" + "|".join(imported) + r")$") if imported else None
        # Searched one by one: each starts with a literal where it can, which the regex
        # engine skips to; joined in one alternation they were tried at every position.
        self.searchers = tuple(re.compile(p) for p in patterns)
        self.places = tuple(places)
        self.level = _either(level)
        self.level_searchers = tuple(re.compile(p) for p in level)
        self.bare_session_calls = False  # see _bare_session_call
        self.sessions = re.compile(_SESSION_WORD + (r"|" + _words_of(project) if project else ""))
        self.project = re.compile(_words_of(project)) if project else None
        self.project_names = frozenset(project)
        self.masked: list[tuple[int, int]] = []  # spans the ``level`` patterns skip (imports)

    def search(self, text: str, start: int = 0, end: Optional[int] = None,
               function: Optional[ast.AST] = None) -> bool:
        """``function``: the node of the function that ``start``..``end`` spans, if one does."""
        end = len(text) if end is None else end
        if any(searcher.search(text, start, end) for searcher in self.searchers):
            return True
        if self.bare_session_calls and _bare_session_call(text, start, end):
            return True
        return bool(self.places) and self.search_places(text, start, end, function)

    def search_level(self, text: str, start: int = 0, end: Optional[int] = None) -> bool:
        end = len(text) if end is None else end
        if self.search(text, start, end):
            return True
        return any(searcher.search(text, a, b)
                   for a, b in self._unmasked(start, end) for searcher in self.level_searchers)

    def _unmasked(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """``start``..``end`` without the import statements (``masked``) in it."""
        first = bisect.bisect_right(self.masked, (start,))  # the first mask from ``start`` on
        for mask_start, mask_end in self.masked[max(first - 1, 0):]:
            if mask_start >= end:
                break
            if mask_end <= start:
                continue
            if mask_start > start:
                yield start, mask_start
            start = max(start, mask_end)
        if start < end:
            yield start, end

    def search_places(self, text: str, start: int, end: int, function: Optional[ast.AST] = None) -> bool:
        """The conditions on bytes (and on ``function``'s node): unlike a pattern, they read
        more than what they find (a name assigned a query elsewhere in the span)."""
        data = text[start:end].encode("utf-8", "surrogatepass")
        return any(place(data, function) for place in self.places)

    def bind(self, tree: ast.Module, text: str, starts: Sequence[int]) -> "Hot":
        """This, for one module (``starts``: where each of its lines starts)."""
        if not (self.opens or self.uses or self.imported):
            return self
        patterns = list(self.patterns)
        if self.imported is not None:
            imported = {alias.asname or alias.name.partition(".")[0]
                        for statement in _module_level(tree.body)
                        if isinstance(statement, (ast.Import, ast.ImportFrom))
                        for alias in statement.names if self.imported.search(alias.name)}
            if imported:
                patterns.append(_words_of(imported))
        if self.opens:
            openers = set.union(*_bound_to(self.sessions, _module_level(tree.body), text, starts))
            patterns.append(_calls_of(_API_OPENERS))
            if self.project_names:
                patterns.append(_calls_of(self.project_names))
            if openers:
                patterns.append(_calls_of(openers))
        if self.uses and self.level is not None:
            level = self.level if self.project is None else re.compile(
                self.level.pattern + "|" + self.project.pattern)
            # Assignments only: an import is no Session instance (``db: Session`` hints).
            bound = _bound_to(level, _level_statements(tree.body), text, starts)[1]
            if bound:
                patterns.append(_words_of(bound))
        level_patterns, masked = list(self.level_patterns), []
        if self.level is not None:
            # No finding of a rule with ``level`` is an import statement: what an import
            # binds counts where it is used (``from sqlalchemy.orm import Session as S``,
            # then ``s = S(engine)``), the statement itself does not.
            imports = [s for s in _level_statements(tree.body) if isinstance(s, (ast.Import, ast.ImportFrom))]
            names = {alias.asname or alias.name.partition(".")[0]
                     for statement in imports for alias in statement.names if self.level.search(alias.name)}
            if names:
                level_patterns.append(_words_of(names))
            masked = sorted(span for span in (_own_lines(s, text, starts) for s in imports) if span is not None)
        bound_hot = Hot(patterns, self.places, level_patterns, callers=self.opens, named=self.named,
                        level_calls=self.level_calls, direct_callers=self.direct_callers,
                        whole_classes=self.whole_classes)
        bound_hot.masked = masked
        bound_hot.bare_session_calls = self.opens
        return bound_hot


def _own_lines(statement: ast.stmt, text: str, starts: Sequence[int]) -> Optional[tuple[int, int]]:
    """The span of ``statement`` when it is alone on its lines (a comment may follow it);
    None when other code shares them, or a line is not ASCII (``ast`` counts columns in
    UTF-8 bytes)."""
    start, end = _span(statement, starts)
    first, last = text[start:starts[statement.lineno]], text[starts[(statement.end_lineno or statement.lineno) - 1]:end]
    if not (first.isascii() and last.isascii()) or statement.end_col_offset is None:
        return None
    before = first[:statement.col_offset]
    after = last[statement.end_col_offset:]
    if before.strip() or _LINE_END.fullmatch(after) is None:
        return None
    return start, end


def _words_of(names: Iterable[str]) -> str:
    """One of ``names`` as a whole word. (Each name comes first and the check that no word
    character precedes it after: the regex engine skips to the first letters.)"""
    return r"(?:" + "|".join(f"{re.escape(n)}(?<!\\w{re.escape(n)})" for n in sorted(names)) + r")\b"


def _calls_of(names: Iterable[str]) -> str:
    """A call of one of ``names`` (``name(``, ``obj.name (``)."""
    return r"(?:" + "|".join(f"{re.escape(n)}(?<!\\w{re.escape(n)})" for n in sorted(names)) + r")" + _CALL


def _bare_session_call(text: str, start: int, end: int) -> bool:
    """A call of a name that says ``session``, not through an attribute. (The start of the
    name is found by hand: a lookbehind cannot go back a whole word.)"""
    for match in _SESSION_CALL.finditer(text, start, end):
        first = match.start()
        while first > start and (text[first - 1].isalnum() or text[first - 1] == "_"):
            first -= 1
        if first == start or text[first - 1] != ".":
            return True
    return False


def _bound_to(pattern: "re.Pattern[str]", statements: Iterable[ast.stmt], text: str,
              starts: Sequence[int]) -> tuple[set[str], set[str]]:
    """The names that imports, and those that assignments, among ``statements`` bind to
    what ``pattern`` finds in them, or to a name bound so (``factory = sessionmaker()``,
    then ``Factory = factory``), until that adds nothing."""
    statements = [s for s in statements if isinstance(s, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign))]
    imported: set[str] = set()
    assigned: set[str] = set()
    current = pattern
    while True:
        before = len(imported) + len(assigned)
        for statement in statements:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                imported.update(alias.asname or alias.name.partition(".")[0] for alias in statement.names
                                if current.search(alias.name))
            elif current.search(text, *_span(statement, starts)):
                assigned.update(_assigned_names(statement))
        if len(imported) + len(assigned) == before:
            return imported, assigned
        current = re.compile(pattern.pattern + "|" + _words_of(imported | assigned))


def _span(statement: ast.stmt, starts: Sequence[int]) -> tuple[int, int]:
    return starts[statement.lineno - 1], starts[(statement.end_lineno or statement.lineno)]


def _assigned_names(statement: ast.stmt) -> Iterator[str]:
    """The plain names an assignment binds."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    else:
        return
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                yield node.id


def _level_statements(statements: list) -> Iterator[Any]:
    """Module-level statements and class-level statements of classes, at any depth."""
    for statement in _module_level(statements):
        if isinstance(statement, ast.ClassDef):
            yield from _level_statements(statement.body)
        else:
            yield statement


def _either(patterns: Sequence[str]) -> Optional["re.Pattern[str]"]:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _module_level(statements: list) -> Iterable[Any]:
    """Module-level statements, those under ``if``/``try``/``with`` too."""
    for statement in statements:
        yield statement
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for block in ("body", "orelse", "finalbody"):
                inner = getattr(statement, block, None)
                if isinstance(inner, list):
                    yield from _module_level(inner)
            for handler in getattr(statement, "handlers", ()):
                yield from _module_level(handler.body)


_HOT_MEMO: dict[tuple, Hot] = {}


def hot_pattern(codes: Iterable[str], project: Optional[Project] = None) -> Optional[Hot]:
    """Where a finding of any of ``codes`` can be; None when one of them is not in HOT
    (its findings can depend on any definition of the file). ``project``: the names the
    project defines (what may open a Session)."""
    key = tuple(sorted(set(codes)))
    if not all(code in HOT for code in key):
        return None
    found = [HOT[code] for code in key]
    names = project.sessions if project is not None and any(w.opens or w.uses for w in found) else frozenset()
    memo = (key, names)
    if memo not in _HOT_MEMO:
        if len(_HOT_MEMO) > 64:
            _HOT_MEMO.clear()
        _HOT_MEMO[memo] = Hot([w.inside for w in found if isinstance(w.inside, str)],
                              [w.inside for w in found if callable(w.inside)],
                              [w.level for w in found if w.level], names,
                              opens=any(w.opens for w in found), uses=any(w.uses for w in found),
                              imported=[w.imported for w in found if w.imported],
                              named=any(w.named for w in found),
                              level_calls=any(w.level_calls for w in found),
                              direct_callers=any(w.direct_callers for w in found),
                              whole_classes=any(w.whole_classes for w in found))
    return _HOT_MEMO[memo]


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

    def original_span(self, start: int, end: int) -> Optional[tuple[int, int]]:
        """``start``..``end`` in :attr:`text` as a span of the original; None when it holds
        any of a stub (an edit there would write the stub, not what it replaced)."""
        i = bisect.bisect_left(self.cuts, (end,)) - 1  # the last stub that starts before ``end``
        if i >= 0 and self.cuts[i][1] > start:
            return None
        return self.original(start), self.original(end)  # type: ignore[return-value]


@dataclass
class _Definition:
    """A definition, or a class-level assignment that may be cut (``is_assignment``)."""

    node: Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign]
    first: int  # 0-based line of its first decorator, or of the def/class keyword
    last: int  # 0-based, inclusive
    children: list["_Definition"]
    parent: Optional["_Definition"]
    names: tuple[str, ...]  # what it binds, in order
    keep: bool = False

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, ast.ClassDef)

    @property
    def is_assignment(self) -> bool:
        return isinstance(self.node, _ASSIGNMENTS)


def prune(text: str, hot: Hot) -> Optional[Pruned]:
    """``text`` with its cold definitions stubbed; ``text`` itself when nothing is cut or it
    cannot be reasoned about (not valid Python for ``ast``); None when nothing in it, kept
    or not, matches ``hot``: no rule being run can report on it."""
    if _ODD.search(text):
        return Pruned(text)
    try:
        tree = newer_syntax.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Pruned(text)  # libcst reports (or rejects) it as it is
    lines = _LINE.findall(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    definitions = _definitions(tree.body, lines, starts, text, None)
    hot = hot.bind(tree, text, starts)

    def hot_in(first: int, last: int, inner: list[_Definition], level: bool,
               function: Optional[ast.AST] = None) -> bool:
        """Is any of lines ``first``..``last`` (of a module or class body when ``level``, of
        a function otherwise: ``function``, its node) hot? Marks the hot (and the
        rebinding) definitions among ``inner``, which are in those lines; each line is read
        once."""
        search = hot.search_level if level else lambda text, start, end: hot.search(text, start, end, function)
        found, line = False, first
        for definition in inner:
            if definition.is_class and hot.level_calls and _assigns_a_call(definition.node):
                definition.keep = found = True
            if definition.is_assignment:
                continue  # searched with the code around it, as before it could be cut
            found = line < definition.first and search(text, starts[line], starts[definition.first]) or found
            if hot_in(definition.first, definition.last, definition.children, definition.is_class,
                      None if definition.is_class else definition.node):
                definition.keep = found = True
            elif _REBINDS.search(text, starts[definition.first], starts[definition.last + 1]):
                definition.keep = True
            line = definition.last + 1
        return line <= last and search(text, starts[line], starts[last + 1]) or found

    if not hot_in(0, len(lines) - 1, definitions, True):
        return None
    if not definitions:
        return Pruned(text, tree=tree)
    _keep_hot_assignments(definitions, text, starts, hot)
    if hot.callers:
        _keep_callers(definitions, text, starts)
    if hot.direct_callers:
        _keep_direct_callers(definitions, text, starts)
    # Keep what the kept text names, until that adds nothing.
    while True:
        if hot.whole_classes:
            _keep_whole_classes(definitions)
        pruned, kept = _render(text, lines, starts, definitions)
        words = set(_WORD.findall(kept))
        if not hot.named or not _keep_named(definitions, words, words, text, starts):
            break
    # Each stub is one statement that ends on the line its definition ended: where the
    # module's statements end, what positions are computed from, is the same. (A stub
    # libcst cannot parse makes the engine analyse the original.)
    pruned.tree = tree
    return pruned


def _definitions(body: list[ast.stmt], lines: list[str], starts: list[int], text: str,
                 parent: Optional[_Definition]) -> list[_Definition]:
    """The definitions in ``body`` and, in a class's (``parent``), the assignments that may
    be cut, in order."""
    found = []
    for node in body:
        if node.end_lineno is None:
            continue
        if isinstance(node, _DEFINITIONS):
            first, names = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1, (node.name,)
        elif parent is not None and isinstance(node, _ASSIGNMENTS):
            first, names = node.lineno - 1, _cuttable_names(node, lines, starts, text)
            if not names:
                continue
        else:
            continue
        last = node.end_lineno - 1
        if not 0 <= first <= last < len(lines):
            continue
        definition = _Definition(node, first, last, [], parent, names)
        if definition.is_class:
            definition.children = _definitions(node.body, lines, starts, text, definition)
        found.append(definition)
    return found


def _cuttable_names(node: Union[ast.Assign, ast.AnnAssign], lines: list[str], starts: list[int],
                    text: str) -> tuple[str, ...]:
    """The names a class-level assignment binds if it may be stubbed, else (): it binds
    plain names only, none a model name, and binds nothing elsewhere (``global``, ``:=``:
    the words are enough to keep it); it has its lines to itself (no ``;``), so that the
    stub's lines are whole lines."""
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        names = tuple(t.id for t in node.targets)  # type: ignore[attr-defined]
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.simple \
            and node.value is not None:
        names = (node.target.id,)  # the annotation goes: no rule reads a class-level one
    else:
        return ()
    if any(_MODEL_NAMES.fullmatch(name) for name in names):
        return ()
    head, tail = lines[node.lineno - 1], lines[node.end_lineno - 1]  # type: ignore[operator]
    # Column offsets count UTF-8 bytes.
    before = head.encode("utf-8", "surrogatepass")[:node.col_offset]
    after = tail.encode("utf-8", "surrogatepass")[node.end_col_offset:].decode("utf-8", "surrogatepass")
    if before.strip(b" \t") or not _LINE_END.fullmatch(after):
        return ()
    start, end = starts[node.lineno - 1], starts[node.end_lineno]
    if _REBINDS.search(text, start, end) or _WALRUS.search(text, start, end):
        return ()
    return names


def _keep_hot_assignments(definitions: list[_Definition], text: str, starts: list[int], hot: Hot) -> None:
    """Keep the class-level assignments a finding can be in: a hot one, and each one in a
    stretch of class-level code (between definitions) where the rules' conditions on bytes
    find something (they read more than one statement: ``q = ...`` then ``q.all()``)."""
    for definition in definitions:
        if not definition.is_class:
            continue
        _keep_hot_assignments(definition.children, text, starts, hot)
        stretch: list[_Definition] = []
        line = definition.first
        for child in [*definition.children, None]:
            if child is not None and child.is_assignment:
                stretch.append(child)
                continue
            end = definition.last + 1 if child is None else child.first
            together = bool(stretch) and bool(hot.places) and hot.search_places(text, starts[line], starts[end])
            for assignment in stretch:
                value = assignment.node.value  # type: ignore[union-attr]
                assignment.keep = together or hot.level_calls and isinstance(value, ast.Call) or \
                    hot.search_level(text, starts[assignment.first], starts[assignment.last + 1])
            stretch = []
            if child is not None:
                line = child.last + 1


def _keep_callers(definitions: list[_Definition], text: str, starts: list[int]) -> None:
    """Keep the functions that call a kept function (``db = get_db()``, where ``get_db``
    opens a Session), and their classes, until that adds nothing."""
    functions = list(_functions(definitions))
    while True:
        called = {d.node.name for d in functions if d.keep}
        if not called:
            return
        calls = re.compile(_calls_of(called))
        added = False
        for definition in functions:
            if not definition.keep and calls.search(text, starts[definition.first], starts[definition.last + 1]):
                added = definition.keep = True
                parent = definition.parent
                while parent is not None:
                    parent.keep, parent = True, parent.parent
        if not added:
            return


def _keep_whole_classes(definitions: list[_Definition]) -> None:
    """Every definition of a class that keeps one of its definitions."""
    for definition in definitions:
        if definition.is_class and definition.keep:
            if any(child.keep for child in definition.children):
                for child in definition.children:
                    child.keep = True
            _keep_whole_classes(definition.children)


def _keep_direct_callers(definitions: list[_Definition], text: str, starts: list[int]) -> None:
    """Keep each definition and class-level assignment whose text calls a kept function by
    its name (a decorator, a default or a class body calls it at import time: it runs
    once), and the classes around them."""
    names = {d.node.name for d in _functions(definitions) if d.keep}  # type: ignore[union-attr]
    if not names:
        return
    calls = re.compile(_calls_of(names))

    def keep(found: list[_Definition]) -> bool:
        added = False
        for definition in found:
            if definition.is_class and keep(definition.children) and not definition.keep:
                definition.keep = added = True
            elif not definition.keep and calls.search(text, starts[definition.first], starts[definition.last + 1]):
                definition.keep = added = True
        return added

    keep(definitions)


def _functions(definitions: list[_Definition]) -> Iterator[_Definition]:
    for definition in definitions:
        if definition.is_class:
            yield from _functions(definition.children)
        elif not definition.is_assignment:
            yield definition


def _keep_named(definitions: list[_Definition], named: set[str], everywhere: set[str], text: str,
                starts: list[int]) -> bool:
    """Keep the definitions that ``named`` names, and in each kept class the definitions its
    own code names: a method is reached by name only from its class's body (``name =
    full_name``, a decorator), never from another method, where bare names are globals.
    A class-level assignment of what may be a constant is also read as ``Class.NAME`` (SQL
    text), so any word of the kept code (``everywhere``) keeps it."""
    added = False
    for definition in definitions:
        reached = everywhere if definition.is_assignment and _may_be_constant(definition.node) else named
        if not definition.keep and any(name in reached for name in definition.names):
            definition.keep = added = True
        if definition.keep and definition.children:
            added = _keep_named(definition.children, _class_level_words(definition, text, starts),
                                everywhere, text, starts) or added
    return added


def _assigns_a_call(node: ast.ClassDef) -> bool:
    """Does the class body assign a call (``x = helper()``, whatever ``helper`` is)?"""
    return any(isinstance(statement, _ASSIGNMENTS) and isinstance(statement.value, ast.Call)
               for statement in _module_level(node.body))


def _may_be_constant(node: ast.AST) -> bool:
    """Could the value assigned be read as a constant (a string, a name, ``"...".format()``)?
    A call of anything else is not one."""
    value = getattr(node, "value", None)
    return not isinstance(value, ast.Call) or isinstance(value.func, ast.Attribute) and value.func.attr == "format"


def _class_level_words(definition: _Definition, text: str, starts: list[int]) -> set[str]:
    """The words of a class's own code: its header and kept statements, and the decorators,
    signatures and bases of the kept definitions in it (evaluated in the class's scope)."""
    words, line = set(), definition.first
    for child in definition.children:
        # (Not the lines of comments: models document each column with one, ``#: the title``.)
        words.update(_code_words(text[starts[line]:starts[child.first]]))
        if child.keep and child.is_assignment:
            words.update(_WORD.findall(text, starts[child.first], starts[child.last + 1]))
        elif child.keep:
            header_end = max(child.node.lineno, child.node.body[0].lineno - 1)
            words.update(_WORD.findall(text, starts[child.first], starts[min(header_end, child.last + 1)]))
        line = child.last + 1
    words.update(_code_words(text[starts[line]:starts[definition.last + 1]]))
    return words


def _code_words(code: str) -> list[str]:
    """The words of ``code`` but those on lines that start with ``#``."""
    return _WORD.findall(code if _FSTRING_START.search(code) else _COMMENT_LINE.sub("", code))


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
        stub = _stub(text, lines, starts, first, last, "=".join(definition.names))  # type: ignore[attr-defined]
        pieces.append(stub)
        spans.append((size, size + len(stub), start, end))
        size += len(stub)
        done = end
    pieces.append(text[done:])
    return Pruned("".join(pieces), spans), "\n".join(pieces[0::2])


def _stub(text: str, lines: list[str], starts: list[int], first: int, last: int, name: str) -> str:
    """One statement at the definition's indentation that binds ``name`` (``a=b``: two
    targets) to a value inference does not know, ``name=...``, with the definition's other
    line breaks in a string (one token: cheaper for libcst than as many blank lines)."""
    head = lines[first]
    indent = head[:len(head) - len(head.lstrip(" \t"))]
    end = _ending(lines[last])
    if first == last:
        return f"{indent}{name}=...{end}"
    return f'{indent}{name}=(...,"""' + _NOT_BREAK.sub("", text[starts[first]:starts[last]]) + '""")[0]' + end


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    return line[-1:] if line[-1:] in ("\n", "\r") else ""
