"""Which functions SLA301 certainly stays silent in, decided on ``ast`` before libcst parses.

Pruning keeps a function for SLA301 when its bytes hold an ``.all()`` or a loop over a call
that may read a query (:func:`sqlalint.prefilter.loads_here`). Most such functions in an
application narrow their queries first::

    query = Event.query.filter(Event.category_id == category.id)
    return query.all()

:class:`~sqlalint.queries.ChainReader` reads such a chain, and a variable through every
binding of it in the function, and reports only when nothing on the way narrows or streams
it. :func:`may_report` follows the same way on ``ast`` and says False only when a bounding
method (``filter``, ``limit``, ``yield_per``...) is certainly on it, or a binding the
reader gives up on (a parameter, a ``for`` target, an annotated assignment) is: then the
reader would find the chain bounded, or read nothing, at every site. It follows Model's
scopes: a variable is read only in a function's own scope (a nested def's sites against
its own bindings), never in a lambda, a class body or a comprehension. Anything it does
not model keeps the function.
"""
from __future__ import annotations

import ast
from typing import Iterator, Optional

from sqlalint.index import target_names
from sqlalint.queries import NARROWING, STREAMING
from sqlalint.sqla import SESSION_STATEMENT_METHODS

_BOUNDING = NARROWING | STREAMING
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# Nodes that open a scope of their own (a site in one is read against other bindings): at
# their body, or (a comprehension) whole.
_BODIED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_GIVES_UP = object()  # a binding ChainReader._history reads nothing through


def may_report(function: ast.AST) -> bool:
    """Could SLA301 report a site in ``function`` (a def's node)? False only when each
    ``.all()`` and each iterated call in it certainly reads as bounded, or as nothing."""
    if not isinstance(function, _FUNCTIONS):
        return True
    readers: dict[int, _Reader] = {}
    for scope, query in _sites(function):
        reader = readers.get(id(scope))
        if reader is None:
            reader = readers[id(scope)] = _Reader(scope)
        if not reader.bounded(query):
            return True
    return False


def _sites(function: ast.AST) -> Iterator[tuple[Optional[ast.AST], ast.expr]]:
    """(the function whose own scope it is in, or None for another scope; the query) of
    each place SLA301 reads: the receiver of ``.all()`` and the iterable of a ``for`` or a
    comprehension when it is a call (awaited or not). Scopes as Model makes them: a def's,
    a lambda's and a class's start at their body (decorators, defaults and bases are the
    enclosing scope's), a comprehension is one whole."""
    stack: list[tuple[ast.AST, Optional[ast.AST]]] = [(function, None)]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "all" \
                and not node.args and not node.keywords:
            yield scope, node.func.value
        elif isinstance(node, (ast.For, ast.comprehension)):
            iterable = node.iter.value if isinstance(node.iter, ast.Await) else node.iter
            if isinstance(iterable, ast.Call):
                yield scope, iterable
        if isinstance(node, _BODIED):
            inner = node if isinstance(node, _FUNCTIONS) else None
            body = {id(child) for child in (node.body if isinstance(node.body, list) else [node.body])}
            stack.extend((child, inner if id(child) in body else scope) for child in ast.iter_child_nodes(node))
        else:
            stack.extend((child, None if isinstance(node, _COMPREHENSIONS) else scope)
                         for child in ast.iter_child_nodes(node))


class _Reader:
    """ChainReader.read, reduced to one question: is the chain certainly bounded (or read
    as nothing)? In ``function``'s own scope; None for another scope (a module's, a
    class's, a lambda's, a comprehension's), where the reader follows no variable."""

    def __init__(self, function: Optional[ast.AST]):
        self.bindings = _bindings(function) if function is not None else None
        self.busy: set[str] = set()

    def bounded(self, expr: ast.expr, statement: bool = False) -> bool:
        """Does ChainReader certainly read ``expr`` (as ``read`` does; as ``_statement``
        does when ``statement``) as bounded, or as nothing?"""
        methods: list[str] = []
        while True:
            if isinstance(expr, ast.Await) and not statement:
                expr = expr.value
            elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
                name = expr.func.attr
                if not statement and (name == "query" or name in SESSION_STATEMENT_METHODS):
                    # The origin, when what it is called on is a Session: only the methods
                    # after it count (a ``.get()`` before it may pick the Session).
                    if not _BOUNDING.isdisjoint(methods):
                        return True
                    if name == "query" or not self._statement_bounded(expr):
                        return False
                    # Bounded as the origin. As a method (``scalars`` of a Result) the
                    # reader goes on past it: so does this.
                methods.append(name)
                expr = expr.func.value
            else:
                break
        if not _BOUNDING.isdisjoint(methods):
            return True
        if isinstance(expr, ast.Name):
            return self._history_bounded(expr.id, statement)
        if statement:
            return False  # ``select(Model)``: an origin, unbounded so far
        # ``Model.query`` is an origin; from anything else (``get_events()``, ``self.rows``)
        # the reader reads nothing.
        return not (isinstance(expr, ast.Attribute) and expr.attr == "query")

    def _statement_bounded(self, call: ast.Call) -> bool:
        """``session.execute(stmt)`` read as the origin: is ``stmt`` certainly bounded?"""
        positional = [a for a in call.args if not isinstance(a, ast.Starred)]
        return not positional or self.bounded(positional[0], statement=True)

    def _history_bounded(self, name: str, statement: bool) -> bool:
        """Does one binding of local ``name`` bound its chain, or make the reader give up?"""
        if self.bindings is None:
            return True  # not a function's scope: the reader follows no variable
        found = self.bindings.get(name)
        if not found:
            return True  # bound elsewhere (a global, a closure's): the reader reads nothing
        if name in self.busy:
            return False
        if _GIVES_UP in found:
            return True
        self.busy.add(name)
        try:
            for value in found:
                root = _root(value)
                if isinstance(root, ast.Name) and root.id == name:
                    if any(method in _BOUNDING for method in _methods(value)):  # ``q = q.filter(...)``
                        return True
                elif self.bounded(value, statement):
                    return True
            return False
        finally:
            self.busy.discard(name)


def _root(expr: ast.expr) -> ast.expr:
    """What a chain starts from (queries._root)."""
    while True:
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            expr = expr.func.value
        elif isinstance(expr, ast.Await):
            expr = expr.value
        else:
            return expr


def _methods(expr: ast.expr) -> Iterator[str]:
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        yield expr.func.attr
        expr = expr.func.value


def _bindings(function: ast.AST) -> dict[str, list]:
    """Every binding Model makes in a function's own scope: the value of each single-target
    ``assign`` (``q = <value>``, ``q := <value>``), _GIVES_UP for the other kinds. A name
    with none is not the function's. (After ``global``, the reader gives up on every name:
    what this says then only keeps more; pruning keeps such a function whole anyway.)"""
    found: dict[str, list] = {}

    def add(name: str, value: object) -> None:
        found.setdefault(name, []).append(value)

    arguments = function.args  # type: ignore[attr-defined]
    for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg):
        if argument is not None:
            add(argument.arg, _GIVES_UP)
    stack: list[ast.AST] = list(function.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        if isinstance(node, _BODIED):
            if not isinstance(node, ast.Lambda):
                add(node.name, _GIVES_UP)
            # Its decorators, defaults and bases are this scope's (a ``:=`` there binds here).
            inner = {id(child) for child in (node.body if isinstance(node.body, list) else [node.body])}
            stack.extend(child for child in ast.iter_child_nodes(node) if id(child) not in inner)
            continue
        if isinstance(node, _COMPREHENSIONS):
            continue  # its own scope, all of it
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    add(target.id, node.value)
                else:
                    for name in target_names(target):
                        add(name, _GIVES_UP)
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            add(node.target.id, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            for name in target_names(node.target):
                add(name, _GIVES_UP)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            for name in target_names(node.optional_vars):
                add(name, _GIVES_UP)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            add(node.name, _GIVES_UP)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    add(alias.asname or alias.name.partition(".")[0], _GIVES_UP)
        elif isinstance(node, ast.Nonlocal):
            for name in node.names:
                add(name, _GIVES_UP)
        stack.extend(ast.iter_child_nodes(node))
    return found
