"""Project-wide facts: which module-level names are engines, session factories, models.

A file that does ``from app.db import SessionLocal`` cannot tell on its own what
``SessionLocal`` is. The index answers that for the whole project, cheaply:

1. Summaries. Each module that can matter is parsed with the stdlib ``ast`` (about ten
   times faster than libcst) into a small JSON summary of its TOP LEVEL: imports, the
   single binding of each name (assignment, def, class), what each top-level function
   returns and yields, class bases and table names, and the receivers of ``.remove()``.
   Summaries depend only on the file's bytes, so they are cached by content hash.
2. Which files. Only files whose bytes name SQLAlchemy, SQLModel or Flask-SQLAlchemy are
   summarised first; then files that can bind a name already found to be a fact (a
   re-export, a ``get_db`` built on an imported factory): they import it from a module
   where it is that fact (or may be: one not indexed yet, unless it stays so), reach it
   as an attribute, or star-import a module holding one; until nothing new turns up. A
   name under a module of the project that is not summarised is unknown.
   Many summaries missing from the cache are computed by a pool of forked processes.
   A round keeps the answers of the previous ones that its new modules cannot change
   (those that read no module name the round rebinds, and were not cut short by a cycle
   guard, whose answers depend on the order of evaluation).
3. Resolution. ``lookup("app.db.SessionLocal")`` evaluates the summary lazily, following
   imports and re-exports across modules (memoised, with a guard against import cycles),
   and mirrors what :mod:`sqlalint.infer` gives for the same code in one file: same Kind,
   is_async, detail, name, returns/yields, flask, table; plus the path and line.

Like inference, the index is shy: a name bound twice, or bound inside ``if``/``try`` (a
conditional definition) is unknown, and the rules stay silent on it.
"""
from __future__ import annotations

import ast
import bisect
import gc
import hashlib
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from sqlalint import newer_syntax, sqla
from sqlalint.values import Kind, Value, configured_or_api_value, constructed_kind

SUMMARY_VERSION = "2"
MAX_CHAIN = 40  # re-export hops followed before giving up (silence)
CACHE_SUBDIR = "index"
_COMPOUND = (ast.If, ast.Try, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)
if hasattr(ast, "TryStar"):
    _COMPOUND = _COMPOUND + (ast.TryStar,)  # type: ignore[attr-defined]
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
                ast.SetComp, ast.DictComp, ast.GeneratorExp)
_CONTEXTMANAGERS = ("contextlib.contextmanager", "contextlib.asynccontextmanager")
# Flask-SQLAlchemy's default table name, snake_case of the class name (as infer does).
_CAMEL = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")


# -- summaries: ast -> JSON-able facts about one module's top level -----------------------

# ``.remove`` not called with arguments (``registry.remove()``, ``f = registry.remove``):
# when the bytes hold none, the tree is not walked for removals.
_GAP = rb"(?:[\s\\]|#[^\r\n]*+)*+"
_REMOVE_WITHOUT_ARGS = re.compile(rb"\." + _GAP + rb"remove(?![\w])(?!" + _GAP + rb"\(" + _GAP + rb"[^\s\\#)])")


def _expr(node: Optional[ast.AST]) -> Any:
    """A tiny expression form: ["n", name], ["a", base, attr], ["c", func(, class_ keyword)],
    ["w", inner]."""
    if isinstance(node, ast.Name):
        return ["n", node.id]
    if isinstance(node, ast.Attribute):
        base = _expr(node.value)
        return ["a", base, node.attr] if base is not None else None
    if isinstance(node, ast.Call):
        func = _expr(node.func)
        if func is None:
            return None
        # ``sessionmaker(class_=AsyncSession)`` makes async sessions: keep that keyword.
        class_ = next((_expr(k.value) for k in node.keywords if k.arg == "class_"), None)
        return ["c", func, class_] if class_ is not None else ["c", func]
    if isinstance(node, ast.Await):
        inner = _expr(node.value)
        return ["w", inner] if inner is not None else None
    return None


def _annotation(node: Optional[ast.AST]) -> Any:
    return None if node is None or isinstance(node, ast.Constant) else _expr(node)


def _import_bindings(node: ast.AST) -> Iterator[tuple[str, list]]:
    """(bound name, [level, module, attr]) for an import statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, [0, alias.name, None]
            else:  # ``import a.b`` binds ``a``
                top = alias.name.split(".")[0]
                yield top, [0, top, None]
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                yield alias.asname or alias.name, [node.level, node.module or "", alias.name]


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


_SCOPE_CLASSES = frozenset(_SCOPE_NODES)


def _walk_scope(nodes: Iterable[ast.AST], expressions: bool = True) -> Iterator[ast.AST]:
    """Every node of one function's own scope (not nested defs, classes, lambdas,
    comprehensions, which are scopes of their own), in ``ast.iter_child_nodes`` order.
    ``expressions=False`` skips inside expressions: only a ``yield`` or ``:=`` found there
    matters, and a module whose bytes hold neither has none."""
    stack = list(nodes)
    if not expressions:
        yield from _walk_statements(stack)
        return
    node_class = ast.AST
    while stack:
        node = stack.pop()
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            for child in value if value.__class__ is list else (value,):
                if isinstance(child, node_class) and child.__class__ not in _SCOPE_CLASSES:
                    stack.append(child)


# The fields that hold statements (or except handlers, match cases, which hold statements),
# in the order they come in every node's ``_fields``.
_STATEMENT_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


def _walk_statements(stack: list) -> Iterator[ast.AST]:
    """_walk_scope(expressions=False) without visiting what holds no statement (targets,
    aliases, with items, patterns): the statements and handlers come in the same order."""
    while stack:
        node = stack.pop()
        yield node
        for field in _STATEMENT_FIELDS:
            value = getattr(node, field, None)
            if value.__class__ is list:
                for child in value:
                    if child.__class__ not in _SCOPE_CLASSES:
                        stack.append(child)


def target_names(target: Optional[ast.AST]) -> Iterator[str]:
    """The plain names a target binds (``a``, ``a, (b, *c)``); none for ``x.y``, ``x[0]``."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from target_names(element)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


# The nodes _function reads (the parser makes no subclasses of these): the rest is skipped.
_FUNCTION_ITEMS = frozenset({
    ast.Return, ast.Yield, ast.YieldFrom, ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.With, ast.AsyncWith,
    ast.Import, ast.ImportFrom, ast.AugAssign, ast.For, ast.AsyncFor, ast.ExceptHandler, ast.FunctionDef,
    ast.AsyncFunctionDef, ast.ClassDef, ast.Global})


def _function(node: ast.AST, expressions: bool = True) -> dict:
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    local: dict[str, list] = {}
    globals_: list[str] = []

    def bind(name: str, entry: list) -> None:
        local[name] = entry if name not in local else ["x"]

    args = node.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            bind(arg.arg, ["p", _annotation(arg.annotation)])
    returns, yields, has_yield = [], [], False
    for item in _walk_scope(node.body, expressions):
        if item.__class__ not in _FUNCTION_ITEMS:
            continue
        if isinstance(item, ast.Return) and item.value is not None:
            returns.append(_expr(item.value))
        elif isinstance(item, (ast.Yield, ast.YieldFrom)):
            has_yield = True
            if isinstance(item, ast.Yield) and item.value is not None:
                yields.append(_expr(item.value))
        elif isinstance(item, ast.Assign):
            for target in item.targets:
                names = list(target_names(target))
                for name in names:
                    bind(name, ["v", _expr(item.value) if isinstance(target, ast.Name) else None])
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            bind(item.target.id, ["t", _expr(item.value), _annotation(item.annotation)])
        elif isinstance(item, ast.NamedExpr):
            bind(item.target.id, ["v", _expr(item.value)])
        elif isinstance(item, (ast.With, ast.AsyncWith)):
            for with_item in item.items:
                if with_item.optional_vars is not None:
                    for name in target_names(with_item.optional_vars):
                        single = isinstance(with_item.optional_vars, ast.Name)
                        bind(name, ["m", _expr(with_item.context_expr) if single else None])
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            for name, spec in _import_bindings(item):
                bind(name, ["i", spec])
        elif isinstance(item, (ast.AugAssign, ast.For, ast.AsyncFor)):
            for name in target_names(item.target):
                bind(name, ["x"])
        elif isinstance(item, ast.ExceptHandler) and item.name:
            bind(item.name, ["x"])
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(item.name, ["x"])
        elif isinstance(item, ast.Global):
            globals_.extend(item.names)
    return {
        "async": isinstance(node, ast.AsyncFunctionDef),
        "returns": returns, "yields": yields, "has_yield": has_yield,
        "ret_ann": _annotation(node.returns),
        "decorators": [_expr(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list],
        "locals": local, "globals": globals_,
    }


def _string(node: Optional[ast.AST]) -> Optional[str]:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _class(node: ast.ClassDef) -> dict:
    tablename = None
    declares = abstract = False
    for statement in node.body:
        targets: list[ast.AST] = []
        value = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign):
            targets, value = [statement.target], statement.value
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if target.id in ("__tablename__", "__table__", "id"):
                declares = True
            if target.id == "__tablename__":
                tablename = _string(value)
            elif target.id == "__table__" and isinstance(value, ast.Call) and value.args:
                tablename = _string(value.args[0])
            elif target.id == "__abstract__" and isinstance(statement, ast.Assign):
                abstract = True
    return {
        "bases": [_expr(b) for b in node.bases],
        "table_kw": any(k.arg == "table" for k in node.keywords),
        "declares": declares, "abstract": abstract, "tablename": tablename,
    }


def summarize(data: bytes) -> dict:
    """The JSON-able summary of one module's top level (depends only on ``data``)."""
    try:
        tree = newer_syntax.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {"v": SUMMARY_VERSION, "error": True, "bind": {}, "star": [], "removes": []}
    bind: dict[str, list] = {}
    walrus = b":=" in data  # without these bytes, no expression needs walking
    expressions = walrus or b"yield" in data

    def add(name: str, entry: list) -> None:
        bind[name] = entry if name not in bind else ["x"]

    star = []

    def top(statements: list[ast.stmt], conditional: bool, type_checking: bool = False) -> None:
        for statement in statements:
            line = statement.lineno
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                if isinstance(statement, ast.ImportFrom) and any(a.name == "*" for a in statement.names):
                    if not conditional:
                        star.append([statement.level, statement.module or ""])
                for name, spec in _import_bindings(statement):
                    add(name, ["x"] if conditional and not type_checking else ["i", spec, line])
            elif conditional:
                # A conditional definition is unknown; its names still poison the others.
                for name in _bound_names(statement, walrus):
                    add(name, ["x"])
                if isinstance(statement, _COMPOUND):
                    for block in _blocks(statement):
                        top(block, True, type_checking)
            elif isinstance(statement, ast.Assign):
                for target in statement.targets:
                    for name in target_names(target):
                        add(name, ["v", _expr(statement.value) if isinstance(target, ast.Name) else None, line])
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                add(statement.target.id, ["t", _expr(statement.value), _annotation(statement.annotation), line])
            elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                add(statement.name, ["f", _function(statement, expressions), line])
            elif isinstance(statement, ast.ClassDef):
                add(statement.name, ["k", _class(statement), line])
            elif isinstance(statement, ast.If) and _is_type_checking(statement.test):
                top(statement.body, True, True)
                top(statement.orelse, True)
            elif isinstance(statement, _COMPOUND):
                for name in _bound_names(statement, walrus):
                    add(name, ["x"])
                for block in _blocks(statement):
                    top(block, True)
            else:
                for name in _bound_names(statement, walrus):
                    add(name, ["x"])

    top(tree.body, False)
    removes = []
    if b".remove" in data and _REMOVE_WITHOUT_ARGS.search(data):
        called_with_args = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (node.args or node.keywords):
                called_with_args.add(id(node.func))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "remove" and id(node) not in called_with_args:
                receiver = _expr(node.value)
                if receiver is not None and receiver[0] in ("n", "a"):
                    removes.append([receiver, node.lineno])
    return {"v": SUMMARY_VERSION, "bind": bind, "star": star, "removes": removes}


def _blocks(statement: ast.AST) -> Iterator[list]:
    for field in ("body", "orelse", "finalbody"):
        block = getattr(statement, field, None)
        if block:
            yield block
    for handler in getattr(statement, "handlers", ()):
        yield handler.body


def _bound_names(statement: ast.AST, walrus: bool = True) -> Iterator[str]:
    """Names a statement binds at its own level (targets, defs, with/for/except names);
    ``walrus=False``: the module has no ``:=``."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name
    elif isinstance(statement, ast.Assign):
        for target in statement.targets:
            yield from target_names(target)
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        yield from target_names(statement.target)
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        for item in statement.items:
            if item.optional_vars is not None:
                yield from target_names(item.optional_vars)
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        for name, _ in _import_bindings(statement):
            yield name
    for handler in getattr(statement, "handlers", ()):
        if handler.name:
            yield handler.name
    for node in ast.walk(statement) if walrus and not isinstance(statement, _SCOPE_NODES) else ():
        if isinstance(node, ast.NamedExpr):
            yield node.target.id


# -- the index -----------------------------------------------------------------------------

class _Module:
    __slots__ = ("name", "package", "path", "line_of", "bind", "star", "removes")

    def __init__(self, name: str, is_package: bool, path: str, summary: dict):
        self.name = name
        self.package = name if is_package else name.rpartition(".")[0]
        self.path = path
        self.bind: dict[str, list] = summary.get("bind", {})
        self.star: list = summary.get("star", [])
        self.removes: list = summary.get("removes", [])

    def absolute(self, spec: list) -> Optional[str]:
        """The qualified name an import binds: [level, module, attr] -> "a.b.attr"."""
        return _absolute(self.package, spec)


def _absolute(package: str, spec: list) -> Optional[str]:
    """The qualified name an import in ``package`` binds: [level, module, attr] -> "a.b.attr";
    None when its dots climb above the top package."""
    level, module, attr = spec[0], spec[1], spec[2]
    if level:
        parts = package.split(".") if package else []
        if level - 1 > len(parts):
            return None
        base = parts[: len(parts) - (level - 1)]
        if module:
            base.append(module)
        module = ".".join(base)
        if not module:
            return attr
    return f"{module}.{attr}" if attr else module


def _value_key(value: Optional[Value]) -> Any:
    """The parts of a Value that rules read (no nodes): for comparisons and fingerprints."""
    if value is None:
        return None
    return (value.kind.name, value.is_async, value.detail, value.name, value.flask, value.table,
            _value_key(value.returns), _value_key(value.yields), _value_key(value.factory),
            _value_key(value.from_registry))


def _interesting(value: Optional[Value]) -> bool:
    if value is None:
        return False
    return value.kind is not Kind.FUNCTION or value.returns is not None or value.yields is not None


class ProjectIndex:
    """Facts about module-level names of one project. An empty index knows nothing."""

    def __init__(self, session_factories: Iterable[str] = (), engine_factories: Iterable[str] = ()):
        self.session_factories = frozenset(session_factories)
        self.engine_factories = frozenset(engine_factories)
        self.modules: dict[str, _Module] = {}
        self.ambiguous: set[str] = set()  # module names two files claim: unknown
        # The name of every module of the project, indexed or not: a name under one that is
        # not indexed is unknown (its parent package does not bind it).
        self.project_modules: set[str] = set()
        self.root: Optional[Path] = None
        self.files_total = 0
        self.files_parsed = 0
        self._memo: dict[tuple[str, str], Optional[Value]] = {}  # (path, name)
        self._busy: set[tuple[str, str]] = set()
        self._lookup_memo: dict[str, Optional[Value]] = {}
        self._split_memo: dict[str, Optional[tuple[_Module, list[str]]]] = {}
        # Facts are kept from one build round to the next unless new modules can change
        # them. Each memoised answer (a binding: its ``_memo`` key (path, name); a lookup:
        # the qualified name) records which answers read it (``_readers``), each module-prefix
        # split (``_split_readers``) too. A new round drops what reads a split whose answer
        # changed, and what was cut short by a cycle guard (``_tainted``: such an answer
        # depends on the order of evaluation, e.g. indico's ``from .custom import *`` before
        # ``custom`` is indexed).
        self._readers: dict[Any, set] = {}
        self._split_readers: dict[str, set] = {}
        self._tainted: set = set()
        self._frames: list[list] = []  # [answer, tainted] being computed, innermost last
        self._removed: Optional[dict[str, list[tuple[str, int]]]] = None
        self._facts: Optional[list] = None
        self._triggers: Optional[tuple[str, ...]] = None  # asked once per linted file
        self._openers: Optional[tuple[str, ...]] = None
        self._fingerprint: Optional[str] = None
        self._contextmanagers: set[tuple[str, int]] = set()  # (path, line) of @contextmanager defs

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def build(cls, root: Path, files: Iterable[Path], *, cache_dir: Optional[Path] = None,
              session_factories: Iterable[str] = (), engine_factories: Iterable[str] = (),
              jobs: Optional[int] = None, meanwhile: Optional[Callable[[], object]] = None) -> "ProjectIndex":
        """Index the Python modules ``files`` of the project rooted at ``root``. Summaries
        are read from / written to ``cache_dir`` when given; ``jobs`` processes (default:
        the CPUs) share them when many are missing, and this process calls ``meanwhile``
        (once) while they start on them."""
        # The summaries are many small lists and dicts that hold no reference cycles: the
        # cyclic collector would walk them again and again while the index grows.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls._build(root, files, cache_dir, session_factories, engine_factories, jobs, meanwhile)
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def _build(cls, root: Path, files: Iterable[Path], cache_dir: Optional[Path], session_factories: Iterable[str],
               engine_factories: Iterable[str], jobs: Optional[int],
               meanwhile: Optional[Callable[[], object]] = None) -> "ProjectIndex":
        index = cls(session_factories, engine_factories)
        index.root = root
        pending: list[tuple[Path, bytes]] = []
        for path in files:
            if path.suffix != ".py":
                continue
            try:
                pending.append((path, path.read_bytes()))
            except OSError:
                continue
        index.files_total = len(pending)
        names_of = _module_names(root, [path for path, _ in pending])
        index.project_modules = {name for names in names_of.values() for name, _ in names if name}
        configured = {q.rpartition(".")[2] for q in (*index.session_factories, *index.engine_factories)}
        wanted = [item for item in pending if sqla.names_sqlalchemy(item[1])
                  or any(n.encode() in item[1] for n in configured)]
        wanted_ids = {id(item) for item in wanted}
        rest = [item for item in pending if id(item) not in wanted_ids]
        primary: dict[str, list] = {}
        secondary: dict[str, list] = {}
        read: dict[int, _Read] = {}  # id(item) -> what _MayBind read of a file left for later rounds
        names: set[str] = set()
        modules: set[str] = set()
        with _Summarizer(cache_dir, jobs, meanwhile) as summarizer:
            while wanted:
                summaries = summarizer.summaries([data for _, data in wanted])
                found_names, found_modules = index._add_round(wanted, summaries, names_of, primary, secondary,
                                                              configured)
                if not rest:
                    break
                names |= found_names  # kept from every round: a later one could drop a name
                modules |= found_modules
                # Every file left is asked again, about every fact known: a module indexed
                # this round can make a name imported from it a fact.
                may_bind = _MayBind(names, modules, read, index._gives_fact, names_of)
                wanted = index._next_round(rest, may_bind, names_of)
                hit = {id(item) for item in wanted}
                rest = [item for item in rest if id(item) not in hit]
        return index

    def _add_round(self, wanted: list[tuple[Path, bytes]], summaries: Iterable[dict],
                   names_of: dict[Path, tuple[tuple[str, bool], tuple[str, bool]]],
                   primary: dict[str, list], secondary: dict[str, list], configured: set[str]
                   ) -> tuple[set[str], set[str]]:
        """Register one round's modules (``names_of``: the two names of each file). What
        makes further files worth indexing: the names of facts (and configured ones), and
        the last parts of the names of modules holding facts."""
        for (path, _), summary in zip(wanted, summaries):
            self.files_parsed += 1
            (name, is_package), (alias, alias_package) = names_of[path]
            if not name and not alias:
                continue
            # One module per file, named as the linted file's model names it (relative
            # imports resolve against that); also known by its package-chain name.
            module = _Module(name or alias, is_package if name else alias_package, _display(path), summary)
            if name:
                primary.setdefault(name, []).append(module)
            if alias and alias != name:
                secondary.setdefault(alias, []).append(module)
        self._register(primary, secondary)
        return set(self.trigger_names()) | configured, {m.rpartition(".")[2] for m, _ in self._fact_modules()}

    def _next_round(self, rest: list[tuple[Path, bytes]], may_bind: "_MayBind",
                    names_of: dict[Path, tuple[tuple[str, bool], tuple[str, bool]]]) -> list[tuple[Path, bytes]]:
        """The files of ``rest`` to index next: those ``may_bind`` wants, and those whose
        answer waits on a module one of them is (a chain of re-exports, one round)."""
        # Asked of each file's bytes first; only the files that would be wanted are asked
        # of their code (their exact answers can only take files away), until none is left.
        answers = {id(item): may_bind(item, exact=False) for item in rest}
        exact: set[int] = set()
        while True:
            wanted = self._wanted(rest, answers, names_of)
            unsure = [item for item in rest if id(item) in wanted and id(item) not in exact]
            if not unsure:
                return [item for item in rest if id(item) in wanted]
            for item in unsure:
                answers[id(item)] = may_bind(item)
                exact.add(id(item))

    @staticmethod
    def _wanted(rest: list[tuple[Path, bytes]], answers: dict[int, Any],
                names_of: dict[Path, tuple[tuple[str, bool], tuple[str, bool]]]) -> set[int]:
        wanted = {id(item) for item in rest if answers[id(item)] is True}
        offered = {name for item in rest if id(item) in wanted for name, _ in names_of[item[0]] if name}
        waiting = [(item, answers[id(item)]) for item in rest if answers[id(item)] and answers[id(item)] is not True]
        grown = True
        while grown:
            grown, still = False, []
            for item, modules in waiting:
                if modules.isdisjoint(offered):
                    still.append((item, modules))
                    continue
                wanted.add(id(item))
                offered.update(name for name, _ in names_of[item[0]] if name)
                grown = True
            waiting = still
        return wanted

    def _gives_fact(self, importer: str, is_package: bool, level: int, module: str, name: str) -> Any:
        """Can ``from <level dots><module> import <name>`` in the module ``importer`` bind a
        fact? True, False, or the name of the module not indexed yet that would tell."""
        qualified = _absolute(importer if is_package else importer.rpartition(".")[0], [level, module, name])
        if qualified is None or "." not in qualified:
            return True
        source = qualified.rpartition(".")[0]
        if qualified in self.project_modules or source in self.ambiguous or \
                configured_or_api_value(qualified, self.session_factories, self.engine_factories) is not None:
            return True  # a module, or what no summary says
        if source in self.modules:
            return self.lookup(qualified) is not None
        return source if source in self.project_modules else False

    def _register(self, primary: dict[str, list], secondary: dict[str, list]) -> None:
        """Module names: the root-relative name (what the linted file's model uses) and the
        name from its package chain (``from app.db import`` in a project nested one folder
        down). A name two files claim is ambiguous: unknown."""
        before, ambiguous_before = self.modules, self.ambiguous
        self.modules = {}
        self.ambiguous = set()
        for name, found in primary.items():
            if len(found) == 1:
                self.modules[name] = found[0]
            else:
                self.ambiguous.add(name)
        for name, found in secondary.items():
            if name in self.modules or name in self.ambiguous:
                continue
            if len(found) == 1:
                self.modules[name] = found[0]
            else:
                self.ambiguous.add(name)
        changed = {name for name in (*before, *self.modules, *ambiguous_before, *self.ambiguous)
                   if before.get(name) is not self.modules.get(name)
                   or (name in ambiguous_before) != (name in self.ambiguous)}
        self._forget_changed(changed)
        self._removed = None
        self._facts = None
        self._triggers = self._openers = None
        self._fingerprint = None

    def _forget_changed(self, changed: set[str]) -> None:
        """After the module names ``changed`` (bound to another module, or ambiguous now or
        no more): drop the answers that can have changed (see __init__)."""
        stale = list(self._tainted)
        # Only a split of a name under a changed module name can change: found by bisection.
        queried = sorted(self._split_memo)
        candidates = set()
        for name in changed:
            start = bisect.bisect_left(queried, name + ".")
            end = bisect.bisect_left(queried, name + "/", start)  # "/" follows "."
            candidates.update(queried[start:end])
        for qualified in candidates:
            old = self._split_memo[qualified]
            new = self._split_uncached(qualified)
            if (old is None) != (new is None) or old is not None and new is not None and \
                    (old[0] is not new[0] or old[1] != new[1]):
                self._split_memo[qualified] = new
                stale.extend(self._split_readers.pop(qualified, ()))
        self._tainted.clear()
        dropped = set(stale)
        while stale:
            node = stale.pop()
            for reader in self._readers.pop(node, ()):
                if reader not in dropped:
                    dropped.add(reader)
                    stale.append(reader)
        for node in dropped:
            if node.__class__ is tuple:
                self._memo.pop(node, None)
            else:
                self._lookup_memo.pop(node, None)

    def _read(self, node: Any) -> None:
        """The answer being computed reads the memoised answer ``node``."""
        if self._frames:
            frame = self._frames[-1]
            readers = self._readers.get(node)
            if readers is None:
                readers = self._readers[node] = set()
            readers.add(frame[0])
            if node in self._tainted:
                frame[1] = True

    def _taint(self) -> None:
        """A cycle or chain guard cut the answer being computed short."""
        if self._frames:
            self._frames[-1][1] = True

    def _pop(self) -> None:
        node, tainted = self._frames.pop()
        if tainted:
            self._tainted.add(node)
        if self._frames:
            parent = self._frames[-1]
            self._readers.setdefault(node, set()).add(parent[0])
            parent[1] = parent[1] or tainted

    # -- the interface the rest of sqlalint uses --------------------------------------------
    def lookup(self, qualified: str) -> Optional[Value]:
        """What the module-level name ``qualified`` ("app.db.SessionLocal") is, with the
        path and line where it is defined; None when unknown."""
        if not self.modules:
            return None
        if qualified in self._lookup_memo:
            self._read(qualified)
            return self._lookup_memo[qualified]
        self._frames.append([qualified, False])
        try:
            value = self._lookup(qualified, frozenset())
        finally:
            self._pop()
        if not _interesting(value):
            value = None  # a function that gives nothing known: nothing to say about it
        self._lookup_memo[qualified] = value
        return value

    def trigger_names(self) -> tuple[str, ...]:
        """Names of project-defined engines, factories and models: a file that mentions one
        is worth parsing even if it never names SQLAlchemy."""
        if self._triggers is None:
            names = {qualified.rpartition(".")[2] for qualified, *_ in self.facts()}
            names |= {q.rpartition(".")[2] for q in (*self.session_factories, *self.engine_factories)}
            self._triggers = tuple(sorted(names))
        return self._triggers

    def opener_names(self) -> tuple[str, ...]:
        """Names of what gives a Session when called (session makers and classes, scoped
        registries, functions that return one of those or a Session), configured factories
        too: a file that calls one may open a Session without ever saying ``session``."""
        if self._openers is None:
            names = {qualified.rpartition(".")[2] for qualified, value, *_ in self.facts() if _opens(value)}
            names |= {q.rpartition(".")[2] for q in self.session_factories}
            self._openers = tuple(sorted(names))
        return self._openers

    def registry_removed(self, qualified: str) -> bool:
        """Does any module of the project call ``.remove()`` on the scoped_session registry
        ``qualified`` (directly or through an imported alias)?"""
        canonical = self._canonical(qualified, frozenset())
        return canonical is not None and canonical in self._removals()

    def removals(self, qualified: str) -> list[tuple[str, int]]:
        """Where ``.remove()`` is called on the registry ``qualified`` (path, line)."""
        canonical = self._canonical(qualified, frozenset())
        return self._removals().get(canonical, []) if canonical else []

    def fingerprint(self) -> str:
        """Changes whenever any fact changes: part of the result cache's key."""
        if self._fingerprint is None:
            digest = hashlib.sha1(SUMMARY_VERSION.encode())
            for qualified, value, *_ in self.facts():
                digest.update(repr((qualified, _value_key(value), value.path, value.line)).encode())
            digest.update(repr(sorted(self._removals())).encode())
            digest.update(repr(sorted(self.session_factories | self.engine_factories)).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def facts(self) -> list[tuple[str, Value, str, int, bool]]:
        """(qualified name, value, path, line, imported) of every module-level name the index
        knows, ordered by file and line. Imported names (re-exports) carry the import's path
        and line; the value carries the definition's."""
        if self._facts is None:
            self._facts = self._compute_facts()
        return self._facts

    def _compute_facts(self) -> list[tuple[str, Value, str, int, bool]]:
        facts = []
        done = set()
        for module_name, module in self.modules.items():
            if id(module) in done:
                continue  # one module known by two names: list it once, by its first
            done.add(id(module))
            for name, entry in module.bind.items():
                if entry[0] == "x":
                    continue
                value = self.lookup(f"{module_name}.{name}")
                if _interesting(value) and value.path is not None:  # not SQLAlchemy's own names
                    facts.append((f"{module_name}.{name}", value, module.path, entry[-1], entry[0] == "i"))
        facts.sort(key=lambda fact: (fact[2], fact[3], fact[0]))
        return facts

    def _fact_modules(self) -> Iterator[tuple[str, _Module]]:
        seen = set()
        for qualified, *_ in self.facts():
            module = qualified.rpartition(".")[0]
            if module not in seen:
                seen.add(module)
                yield module, self.modules[module]

    # -- resolution ----------------------------------------------------------------------------
    def _split(self, qualified: str) -> Optional[tuple[_Module, list[str]]]:
        """The longest known module prefix of ``qualified`` and the attribute path after it
        (memoised until the modules change: many modules import the same names)."""
        if qualified not in self._split_memo:
            self._split_memo[qualified] = self._split_uncached(qualified)
        if self._frames:
            readers = self._split_readers.get(qualified)
            if readers is None:
                readers = self._split_readers[qualified] = set()
            readers.add(self._frames[-1][0])
        return self._split_memo[qualified]

    def _split_uncached(self, qualified: str) -> Optional[tuple[_Module, list[str]]]:
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            module = self.modules.get(prefix)
            if module is not None:
                return module, parts[cut:]
            if prefix in self.ambiguous or prefix in self.project_modules:
                return None
        return None

    def _qualified(self, qualified: str, seen: frozenset) -> Optional[Value]:
        """infer.Inference._infer_qualified, for names met while evaluating summaries."""
        value = configured_or_api_value(qualified, self.session_factories, self.engine_factories)
        if value is not None or qualified.startswith(sqla.SQLALCHEMY_MODULES):
            return value
        return self._lookup(qualified, seen)

    def _lookup(self, qualified: str, seen: frozenset) -> Optional[Value]:
        if qualified in seen or len(seen) > MAX_CHAIN:
            self._taint()
            return None  # an import cycle, or a chain of re-exports too long to be worth following
        seen = seen | {qualified}
        if qualified in self.session_factories or qualified in self.engine_factories:
            return self._qualified(qualified, seen)
        split = self._split(qualified)
        if split is None:
            return None
        module, rest = split
        entry = module.bind.get(rest[0])
        if entry is None:
            for level, name in module.star:  # ``from .db import *`` re-exports
                target = module.absolute([level, name, None])
                if target and not rest[0].startswith("_"):
                    found = self._qualified(".".join([target, *rest]), seen)
                    if found is not None:
                        return found
            return None
        if entry[0] == "i":
            target = module.absolute(entry[1])
            return self._qualified(".".join([target, *rest[1:]]), seen) if target else None
        if len(rest) > 1:
            return None  # an attribute of a value: inference follows it from the owner
        return self._binding(module, rest[0], seen)

    def _binding(self, module: _Module, name: str, seen: frozenset) -> Optional[Value]:
        key = (module.path, name)  # a module's name can move to another file in a later round
        if key in self._memo:
            self._read(key)
            return self._memo[key]
        if key in self._busy:
            self._taint()
            return None
        self._busy.add(key)
        self._frames.append([key, False])
        try:
            value = self._evaluate_binding(module, name, seen)
        finally:
            self._busy.discard(key)
            self._pop()
        self._memo[key] = value
        return value

    def _evaluate_binding(self, module: _Module, name: str, seen: frozenset) -> Optional[Value]:
        entry = module.bind.get(name)
        if entry is None:
            return None
        kind, line = entry[0], entry[-1]
        where = {"path": module.path, "line": line}
        if kind == "i":
            target = module.absolute(entry[1])
            return self._qualified(target, seen) if target else None
        if kind in ("v", "t"):
            value = self._eval(entry[1], module, None, seen, line)
            if value is None and kind == "t":
                value = self._annotation(entry[2], module, seen)
            if value is None or value.kind is Kind.FUNCTION:
                return value
            return replace(value, node=None, name=name, **where)
        if kind == "f":
            return self._function(module, name, entry[1], seen, line)
        if kind == "k":
            return self._class(module, name, entry[1], seen, line)
        return None

    def _function(self, module: _Module, name: str, info: dict, seen: frozenset, line: int) -> Value:
        returns = _agree([self._eval(r, module, info, seen, line) for r in info["returns"]])
        if returns is None and not info["has_yield"] and info["ret_ann"] is not None:
            returns = self._annotation(info["ret_ann"], module, seen)
        yields = _agree([self._eval(y, module, info, seen, line) for y in info["yields"]])
        if any(self._qualname(d, module, None) in _CONTEXTMANAGERS for d in info["decorators"]):
            self._contextmanagers.add((module.path, line))
        return Value(Kind.FUNCTION, is_async=info["async"], path=module.path, line=line, name=name,
                     returns=returns, yields=yields)

    def _class(self, module: _Module, name: str, info: dict, seen: frozenset, line: int) -> Optional[Value]:
        """infer.Inference._infer_class, with the same table names as infer._model_table."""
        where = {"path": module.path, "line": line, "name": name}
        for base in info["bases"]:
            qualified = self._qualname(base, module, None)
            if qualified in sqla.FLASK_SQLALCHEMY:  # class AppSQLAlchemy(SQLAlchemy)
                return Value(Kind.FUNCTION, returns=Value(Kind.FLASK_DB, detail="Flask-SQLAlchemy extension"),
                             **where)
            if qualified in sqla.DECLARATIVE_BASE_CLASSES:
                if info["declares"] or info["table_kw"]:
                    table = info["tablename"] or (name.lower() if info["table_kw"] else None)
                    return Value(Kind.MODEL, table=table, **where)
                return Value(Kind.BASE, detail="declarative base", **where)
            parent = self._eval(base, module, None, seen, line)
            if parent is not None and parent.kind in (Kind.BASE, Kind.MODEL):
                if parent.kind is Kind.BASE and not info["declares"] and info["abstract"]:
                    return Value(Kind.BASE, detail="declarative base", **where)
                table = info["tablename"]
                if table is None and parent.kind is Kind.MODEL and not info["declares"]:
                    table = parent.table  # single-table inheritance
                elif table is None and parent.flask:
                    table = _CAMEL.sub(r"_\1", name).lower().lstrip("_")
                return Value(Kind.MODEL, flask=parent.flask, table=table, **where)
        return None

    def _annotation(self, annotation: Any, module: _Module, seen: frozenset) -> Optional[Value]:
        qualified = self._qualname(annotation, module, None) if annotation is not None else None
        if qualified in sqla.SESSION_CLASSES:
            return Value(Kind.SESSION, detail="Session")
        if qualified in sqla.ASYNC_SESSION_CLASSES:
            return Value(Kind.SESSION, is_async=True, detail="AsyncSession")
        return None

    def _local(self, name: str, function: Optional[dict]) -> Optional[list]:
        if function is None or name in function["globals"]:
            return None
        return function["locals"].get(name)

    def _qualname(self, expr: Any, module: _Module, function: Optional[dict]) -> Optional[str]:
        """model.qualified_name over a summary expression."""
        attrs = []
        while expr is not None and expr[0] == "a":
            attrs.append(expr[2])
            expr = expr[1]
        if expr is None or expr[0] != "n":
            return None
        name = expr[1]
        local = self._local(name, function)
        if local is not None:
            base = module.absolute(local[1]) if local[0] == "i" else None
        elif function is not None and name in function["locals"]:
            return None
        else:
            entry = module.bind.get(name)
            if entry is None or entry[0] == "x":
                return None
            base = module.absolute(entry[1]) if entry[0] == "i" else f"{module.name}.{name}"
        if base is None:
            return None
        return ".".join([base, *reversed(attrs)])

    def _eval(self, expr: Any, module: _Module, function: Optional[dict], seen: frozenset,
              line: int) -> Optional[Value]:
        """infer.Inference._infer over a summary expression (``function``: the scope)."""
        if expr is None:
            return None
        tag = expr[0]
        if tag == "w":
            return self._eval(expr[1], module, function, seen, line)
        if tag == "n":
            name = expr[1]
            if function is not None and name not in function["globals"] and name in function["locals"]:
                return self._eval_local(function["locals"][name], module, function, seen, line)
            entry = module.bind.get(name)
            return self._binding(module, name, seen) if entry is not None else None
        if tag == "a":
            qualified = self._qualname(expr, module, function)
            if qualified is not None:
                found = self._qualified(qualified, seen)
                if found is not None:
                    return found
            owner = self._eval(expr[1], module, function, seen, line)
            if owner is not None and owner.kind is Kind.FLASK_DB:
                attr = expr[2]
                where = {"path": owner.path, "line": owner.line, "flask": True}
                if attr == "session":
                    return Value(Kind.SCOPED_REGISTRY, name=f"{owner.name}.session",
                                 detail="Flask-SQLAlchemy scoped session", **where)
                if attr == "engine":
                    return Value(Kind.ENGINE, name=f"{owner.name}.engine", detail="Flask-SQLAlchemy engine", **where)
                if attr == "Model":
                    return Value(Kind.BASE, name=f"{owner.name}.Model", detail="Flask-SQLAlchemy model base", **where)
            return None
        if tag == "c":
            func = expr[1]
            qualified = self._qualname(func, module, function)
            if qualified is not None:
                made = constructed_kind(qualified)
                if made is not None:
                    kind, is_async, detail = made
                    if kind is Kind.SESSION_FACTORY and len(expr) > 2 and \
                            self._qualname(expr[2], module, function) in sqla.ASYNC_SESSION_CLASSES:
                        is_async, detail = True, "sessionmaker(class_=AsyncSession)"
                    return Value(kind, is_async=is_async, detail=detail, path=module.path, line=line)
            callee = self._eval(func, module, function, seen, line)
            if callee is None:
                if func[0] == "a" and func[2] in ("connect", "begin"):
                    owner = self._eval(func[1], module, function, seen, line)
                    if owner is not None and owner.kind is Kind.ENGINE:
                        return Value(Kind.CONNECTION, is_async=owner.is_async, path=module.path, line=line)
                return None
            if callee.is_session_maker:
                return Value(Kind.SESSION, is_async=callee.is_async, factory=callee, path=module.path, line=line,
                             detail="AsyncSession" if callee.is_async else "Session")
            if callee.kind is Kind.SCOPED_REGISTRY:
                return Value(Kind.SESSION, is_async=callee.is_async, from_registry=callee, path=module.path,
                             line=line, detail="Session", flask=callee.flask)
            if callee.kind is Kind.FUNCTION:
                if callee.returns is not None:
                    return callee.returns
                if callee.yields is not None and (callee.path, callee.line) in self._contextmanagers:
                    return Value(Kind.FUNCTION, path=callee.path, line=callee.line, yields=callee.yields)
            return None
        return None

    def _eval_local(self, entry: list, module: _Module, function: dict, seen: frozenset,
                    line: int) -> Optional[Value]:
        kind = entry[0]
        if kind == "i":
            target = module.absolute(entry[1])
            return self._qualified(target, seen) if target else None
        if kind == "v":
            return self._eval(entry[1], module, function, seen, line)
        if kind == "t":
            value = self._eval(entry[1], module, function, seen, line)
            return value if value is not None else self._annotation(entry[2], module, seen)
        if kind == "m":
            manager = self._eval(entry[1], module, function, seen, line)
            if manager is not None and manager.kind in (Kind.SESSION, Kind.CONNECTION):
                return manager  # Session/Connection.__enter__ return themselves
            if manager is not None and manager.kind is Kind.FUNCTION and manager.yields is not None:
                return manager.yields  # a @contextmanager that yields a Session
            return None
        if kind == "p":
            return self._annotation(entry[1], module, seen)
        return None

    # -- scoped_session .remove() ---------------------------------------------------------------
    def _canonical(self, qualified: str, seen: frozenset) -> Optional[str]:
        """The defining module and name of ``qualified``, through imports and re-exports."""
        if qualified in seen:
            return None
        split = self._split(qualified)
        if split is None:
            return qualified
        module, rest = split
        entry = module.bind.get(rest[0])
        if entry is not None and entry[0] == "i":
            target = module.absolute(entry[1])
            return self._canonical(".".join([target, *rest[1:]]), seen | {qualified}) if target else None
        return ".".join([module.name, *rest])

    def _removals(self) -> dict[str, list[tuple[str, int]]]:
        if self._removed is None:
            removed: dict[str, list[tuple[str, int]]] = {}
            done = set()
            for module in self.modules.values():
                if id(module) in done:
                    continue
                done.add(id(module))
                for receiver, line in module.removes:
                    qualified = self._qualname(receiver, module, None)
                    canonical = self._canonical(qualified, frozenset()) if qualified else None
                    if canonical is not None:
                        removed.setdefault(canonical, []).append((module.path, line))
            self._removed = removed
        return self._removed


class _MayBind:
    """Does a module hold what it takes to bind something the index would learn from: one
    of ``names`` (facts' names) in an import statement or after a dot, or a star import of
    a module whose name ends in one of ``modules``? Those are the ways to reach another
    module's fact (``from app.db import SessionLocal``, ``db.SessionLocal``, ``import
    app.db`` then ``app.db.engine``); a bare name that is not imported is the module's own.
    What is read of a file is kept for every round that asks about it (``read``, by id of
    the item: :class:`_Read`): each round asks with set intersections, where a regular
    expression of hundreds of names would scan the bytes again; only the few files that
    use a name are read further, then in their code (docstrings say ``.Run`` and ``from
    app import Flow``).

    With ``gives`` (:meth:`ProjectIndex._gives_fact`), a ``from X import name`` counts only
    when ``X.name`` can be a fact: a model's name is common (``Flow``, ``Event``), and most
    modules that import it import another module's class of that name. The answer is
    True, False, or the names of modules not indexed yet that would decide it (the file
    is wanted if one of them is)."""

    def __init__(self, names: set[str], modules: set[str], read: dict[int, "_Read"],
                 gives: Optional[Callable[[str, bool, int, str, str], Any]] = None,
                 names_of: Optional[dict[Path, tuple[tuple[str, bool], tuple[str, bool]]]] = None):
        from sqlalint.prefilter import code_of, words_of

        self.read, self.words_of, self.code_of = read, words_of, code_of
        self.gives, self.names_of = gives, names_of or {}
        self.ascii = frozenset(n.encode() for n in names if n.isascii())
        self.other = tuple(n.encode() for n in names if not n.isascii())  # as bytes: a superset
        self.modules = frozenset(m.encode() for m in modules)

    def __call__(self, item: tuple[Path, bytes], exact: bool = True) -> Any:
        """The answer for ``item``; read from its bytes when not ``exact``: never False where
        the exact answer (read from its code) is not, and cheap."""
        data = item[1]
        read = self.read.get(id(item))
        if read is None:
            read = self.read[id(item)] = _Read(data, self.words_of(data))
        if any(n in data for n in self.other) or self.modules and not self.modules.isdisjoint(read.stars()):
            return True
        used = self.ascii & read.words
        if not used:
            return False
        statements = read.statements(self.code_of if exact else None)
        imported = self._imports(item[0], statements, used)
        if imported is True:
            return True
        if not used.isdisjoint(read.attributes(self.code_of if exact else None)):
            return True
        return imported

    def _imports(self, path: Path, statements: list[_Import], used: frozenset) -> Any:
        """Does one of the import ``statements`` of ``path`` bind one of ``used`` (ASCII
        words it holds) from where it can be a fact?"""
        waits: set[str] = set()
        for statement in statements:
            if not any(name in statement.body for name in used):
                continue
            source, imported = statement.read()
            if used.isdisjoint(imported):
                continue
            own = self.names_of.get(path)
            if source is None or self.gives is None or own is None:
                return True  # not a from-import read to the letter: it may
            (name, is_package), (alias, alias_package) = own
            importer, package = (name, is_package) if name else (alias, alias_package)
            for bound in used.intersection(imported):
                answer = self.gives(importer, package, source[0], source[1], bound.decode())
                if answer is True:
                    return True
                if answer:
                    waits.add(answer)
        return frozenset(waits) if waits else False


class _Read:
    """What :class:`_MayBind` read of one file: its words, then its import statements and
    the names it spells after a dot, and the same of its code (comments and strings removed)."""

    __slots__ = ("data", "words", "_stars", "_raw", "_code")

    def __init__(self, data: bytes, words: frozenset):
        self.data, self.words = data, words
        self._stars: Optional[frozenset] = None
        self._raw: Optional[list] = None  # [text, import statements, names after a dot]
        self._code: Optional[list] = None

    def _of(self, code_of: Optional[Callable[[bytes], bytes]]) -> list:
        if code_of is None:
            if self._raw is None:
                self._raw = [self.data, _import_statements(self.data), None]
            return self._raw
        if self._code is None:
            code = code_of(self.data)
            self._code = [code, _import_statements(code), None]
        return self._code

    def stars(self) -> frozenset:
        """The last part of the name of each module the bytes star-import."""
        if self._stars is None:
            self._stars = frozenset(
                module.replace(b" ", b"").replace(b"\t", b"").rpartition(b".")[2]
                for module in _STAR_IMPORT.findall(self.data)) if b"*" in self.data else frozenset()
        return self._stars

    def statements(self, code_of: Optional[Callable[[bytes], bytes]] = None) -> list["_Import"]:
        """The import statements of the bytes, or (given ``code_of``) of the code."""
        return self._of(code_of)[1]

    def attributes(self, code_of: Optional[Callable[[bytes], bytes]] = None) -> frozenset:
        """The names spelt after a dot (``db.SessionLocal``, ``db . \\\n engine``) in the bytes,
        or (given ``code_of``) in the code."""
        read = self._of(code_of)
        if read[2] is None:
            read[2] = frozenset(_ATTRIBUTE.findall(read[0]))
        return read[2]


class _Import:
    """One import statement: where ``import`` starts in ``data``, and what follows it
    (``body``); read to the letter on demand."""

    __slots__ = ("data", "start", "body", "_read")

    def __init__(self, data: bytes, start: int, body: bytes):
        self.data, self.start, self.body = data, start, body
        self._read: Optional[tuple[Optional[tuple[int, str]], frozenset]] = None

    def read(self) -> tuple[Optional[tuple[int, str]], frozenset]:
        """((level, module) of a from-import, or None for any other or one not read to the
        letter, the words it imports)."""
        if self._read is None:
            data, start, body = self.data, self.start, self.body
            line = max(data.rfind(b"\n", 0, start), data.rfind(b"\r", 0, start)) + 1
            source = _FROM_MODULE.fullmatch(data, line, start)
            imported = _imported_names(body) if source is not None else None
            if source is None or imported is None:
                from sqlalint.prefilter import words_of

                self._read = (None, words_of(body))
            else:
                module = source.group(2).replace(b" ", b"").replace(b"\t", b"").decode()
                self._read = ((len(source.group(1)), module), imported)
        return self._read


def _import_statements(data: bytes) -> list[_Import]:
    return [_Import(data, match.start(), match.group(1)) for match in _IMPORTED.finditer(data)]


# Before ``import``, on its line: ``from <dots><module> `` (a continuation line or another
# statement on the line: not read to the letter).
_FROM_MODULE = re.compile(rb"[ \t]*from[ \t]+(\.*)[ \t]*((?:[A-Za-z_][\w]*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*)?)[ \t]+")
_IMPORT_COMMENT = re.compile(rb"#[^\r\n]*")
_IMPORTED_NAME = re.compile(rb"([A-Za-z_]\w*)(?:\s+as\s+[A-Za-z_]\w*)?")


def _imported_names(body: bytes) -> Optional[frozenset]:
    """The names ``import <body>`` imports from its module (not what it binds them as);
    None when ``body`` does not read as such a list."""
    if body.startswith(b"("):
        body = body[1:-1]
    body = _IMPORT_COMMENT.sub(b"", body).replace(b"\\\r\n", b" ").replace(b"\\\n", b" ")
    pieces = [piece.strip() for piece in body.split(b",")]
    if pieces and not pieces[-1]:
        pieces.pop()  # a trailing comma
    names = set()
    for piece in pieces:
        found = _IMPORTED_NAME.fullmatch(piece)
        if found is None:
            return None
        names.add(found.group(1))
    return frozenset(names) if names else None


# What an import statement names: up to the end of its logical line (or a comment), or
# its parentheses (where a comment may hold a ``)``).
_IMPORTED = re.compile(rb"import(?<![\w.]import)(?![\w])[ \t]*+(\((?:[^)#]++|#[^\r\n]*+)*+\)|(?:\\\r?\n|[^\r\n;#])*+)")
_DOT = rb"\.(?:[\s\\]|#[^\r\n]*+)*+"  # a dot, and what may come before the name it reaches
_ATTRIBUTE = re.compile(_DOT + rb"([A-Za-z_]\w*)")


# ``from <...> import *``, within one logical line (a scan that could run on across lines
# would be quadratic), starting with a literal (searched fast): the module's name.
_STAR_GAP = rb"(?:[ \t]|\\\r?\n)"
_STAR_IMPORT = re.compile(rb"from(?<!\wfrom)" + _STAR_GAP + rb"+([\w. \t]*?)" + _STAR_GAP + rb"*import" + _STAR_GAP
                          + rb"*\(?" + _STAR_GAP + rb"*\*")


_SESSION_GIVERS = (Kind.SESSION_FACTORY, Kind.SESSION_CLASS, Kind.SCOPED_REGISTRY)


def _opens(value: Value) -> bool:
    if value.kind in _SESSION_GIVERS:
        return True
    given = value.returns or value.yields
    return value.kind is Kind.FUNCTION and given is not None and (
        given.kind is Kind.SESSION or given.kind in _SESSION_GIVERS)


def _agree(values: list[Optional[Value]]) -> Optional[Value]:
    if not values or any(v is None for v in values):
        return None
    first = values[0]
    return first if all(v.kind is first.kind for v in values) else None  # type: ignore[union-attr]


def _module_names(root: Path, paths: list[Path]) -> dict[Path, tuple[tuple[str, bool], tuple[str, bool]]]:
    """Both names (see ProjectIndex._register) of each of ``paths``, and whether it is a
    package's ``__init__``."""
    from sqlalint.files import module_name

    resolved: dict[Path, Path] = {}
    chains: dict[Path, list[str]] = {}
    return {path: (module_name(path, root, resolved), _package_name(path, chains)) for path in paths}


def _package_name(path: Path, folders: Optional[dict[Path, list[str]]] = None) -> tuple[str, bool]:
    """The dotted name from the chain of packages (folders with ``__init__.py``) holding
    ``path``, as Python would import it with the top package's parent on sys.path.
    ``folders`` remembers each folder's package chain (within one build)."""
    if path.is_symlink():  # the file links elsewhere: the chain of the folder it is in
        return _package_name(path.resolve(), {})
    folders = {} if folders is None else folders
    chain = folders.get(path.parent)
    if chain is None:
        chain = []
        folder = path.parent.resolve()
        while (folder / "__init__.py").is_file():
            chain.append(folder.name)
            folder = folder.parent
        chain.reverse()
        folders[path.parent] = chain
    is_package = path.name == "__init__.py"
    parts = chain if is_package else [*chain, path.stem]
    if not parts or not all(p.isidentifier() for p in parts):
        return "", is_package
    return ".".join(parts), is_package


def _display(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


# Below this many summaries to compute (cache misses), one process: forking costs more.
POOL_MIN_SUMMARIES = 64


class _Summarizer:
    """Summaries of many files: from the cache, else computed, by a pool of ``jobs``
    forked processes when many are missing (started once, shared by the build rounds).
    ``meanwhile`` is called the first time the pool has work, after handing it out."""

    def __init__(self, cache_dir: Optional[Path], jobs: Optional[int] = None,
                 meanwhile: Optional[Callable[[], object]] = None):
        self.cache_dir = cache_dir
        self.jobs = jobs or os.cpu_count() or 1
        self.meanwhile = meanwhile
        self._pool: Any = None

    def __enter__(self) -> "_Summarizer":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def summaries(self, datas: list[bytes]) -> Iterator[dict]:
        """The summary of each of ``datas``, in order, as soon as it is ready (the caller
        registers modules while the pool still works)."""
        files = [_cache_file(data, self.cache_dir) for data in datas]
        found = [_read_summary(file) for file in files]
        computed = self._compute([data for data, summary in zip(datas, found) if summary is None])
        for file, summary in zip(files, found):
            if summary is None:
                summary = next(computed)
                _write_summary(file, summary)
            yield summary

    def _compute(self, datas: list[bytes]) -> Iterator[dict]:
        import multiprocessing

        if self.jobs < 2 or len(datas) < POOL_MIN_SUMMARIES or "fork" not in multiprocessing.get_all_start_methods():
            return (summarize(data) for data in datas)
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("fork"))
        chunk = max(1, min(32, len(datas) // (self.jobs * 4)))
        summaries = self._pool.map(summarize, datas, chunksize=chunk)  # handed out now
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return summaries


def _cache_file(data: bytes, cache_dir: Optional[Path]) -> Optional[Path]:
    if cache_dir is None:
        return None
    key = hashlib.sha1(SUMMARY_VERSION.encode() + b"\0" + data).hexdigest()
    return cache_dir / key[:2] / f"{key}.json"


def _read_summary(file: Optional[Path]) -> Optional[dict]:
    if file is None:
        return None
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
        if summary.get("v") == SUMMARY_VERSION:
            return summary
    except (OSError, ValueError):
        pass
    return None


def _write_summary(file: Optional[Path], summary: dict) -> None:
    if file is None:
        return
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        temp = file.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(summary, separators=(",", ":")), encoding="utf-8")
        os.replace(temp, file)
    except OSError:
        pass  # a read-only tree: the index still works, uncached


def build_for_project(root: Path, settings: Any, cache_dir: Optional[Path], jobs: Optional[int] = None) -> ProjectIndex:
    """The index of every Python module under ``root`` (excludes and .gitignore honoured)."""
    from sqlalint.files import discover

    found = discover([str(root)], settings)
    return ProjectIndex.build(root, found.files, cache_dir=cache_dir,
                              session_factories=settings.session_factories,
                              engine_factories=settings.engine_factories, jobs=jobs)


def project_index(settings: Any, *, no_cache: bool = False, cache_dir: Optional[Path] = None,
                  jobs: Optional[int] = None) -> ProjectIndex:
    """The index of the project ``settings.root`` for a run, cached in
    ``<cache dir>/index/`` unless ``no_cache``; ``jobs`` as for ProjectIndex.build."""
    root = Path(settings.root)
    folder = None if no_cache else Path(cache_dir or root / ".sqlalint_cache") / CACHE_SUBDIR
    return build_for_project(root, settings, folder, jobs)


def describe_fact(index: ProjectIndex, qualified: str, value: Value) -> tuple[str, str]:
    """What ``sqlalint index`` prints for one name, and where the value is defined."""
    text = f"{qualified}: {value.describe()}"
    if value.kind is Kind.MODEL and value.table:
        text += f" (table {value.table})"
    if value.flask and value.kind is not Kind.MODEL:
        text += " (Flask-SQLAlchemy)"
    defined = f"{value.path}:{value.line}"
    if value.kind is Kind.SCOPED_REGISTRY:
        removed = index.removals(qualified)
        text += ("; .remove() at " + ", ".join(f"{p}:{n}" for p, n in removed)) if removed \
            else "; .remove() never called"
    return text, defined
