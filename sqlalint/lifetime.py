"""What runs once per process, and how to move a per-call expression to module level.

An Engine or a session factory is meant to be made once. Code "runs once" when it is at
module level or in a class body, or in a function that is cached (``functools.cache``,
``lru_cache``, ``cached_property``), a pytest fixture, or called directly from
module-level code (``main()`` under ``if __name__ == "__main__"``, ``engine = make_engine()``
at import time). The answer is computed once per model and kept in a weak, keyed cache.
"""
from __future__ import annotations

import ast
import weakref
from typing import TYPE_CHECKING, Optional

import libcst as cst

from sqlalint import newer_syntax, sqla
from sqlalint.escape import function_scope
from sqlalint.model import Model, Scope

if TYPE_CHECKING:
    from sqlalint.context import Context

CACHES = sqla.FUNCTOOLS_CACHES | {"functools.cached_property"}
FIXTURES = frozenset({"pytest.fixture", "pytest_asyncio.fixture"})

_ONCE: "weakref.WeakKeyDictionary[Model, dict[cst.FunctionDef, str]]" = weakref.WeakKeyDictionary()


def runs_once(ctx: "Context", scope: Scope) -> Optional[str]:
    """Why the code of ``scope`` runs once per process ("module level", "cached by
    `functools.cache`", ...), or None when it may run on every call."""
    scope = function_scope(scope)
    if scope.kind in ("module", "class"):
        return "module level" if runs_once_static(scope) else None
    if scope.kind != "function":
        return None
    return _once_functions(ctx).get(scope.node)  # type: ignore[arg-type]


def _chain(scope: Scope):
    while scope is not None:
        yield scope
        scope = scope.parent


def decorator_reason(ctx: "Context", node: cst.FunctionDef, outer: Scope) -> Optional[str]:
    for decorator in node.decorators:
        expr = decorator.decorator
        target = expr.func if isinstance(expr, cst.Call) else expr
        qualified = ctx.qualified_name(target, outer)
        if qualified in CACHES:
            return f"cached by `{qualified}`"
        if qualified in FIXTURES:
            return "a pytest fixture"
    return None


def _once_functions(ctx: "Context") -> dict[cst.FunctionDef, str]:
    model = ctx.model
    found = _ONCE.get(model)
    if found is not None:
        return found
    found = {}
    for scope in model.scopes():
        if scope.kind == "function":
            reason = decorator_reason(ctx, scope.node, scope.parent or model.root)  # type: ignore[arg-type]
            if reason:
                found[scope.node] = reason
    # A function called from module-level code (``main()`` under the ``__name__`` guard,
    # ``engine = make_engine()``) runs at import time. Only direct calls count: a helper
    # that a cached function calls may have other, per-call callers.
    for scope in model.scopes():
        if not runs_once_static(function_scope(scope)):
            continue
        for call in scope.calls:
            if not isinstance(call.func, cst.Name):
                continue
            binding = model.single_binding(call.func.value, scope)
            if binding is not None and binding.kind == "def" and binding.node not in found:
                found[binding.node] = "called at import time"  # type: ignore[index]
    _ONCE[model] = found
    return found


def runs_once_static(scope: Scope) -> bool:
    return all(s.kind in ("module", "class") for s in _chain(scope))


# -- hoisting to module level ---------------------------------------------------------------

def top_statement(ctx: "Context", node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The statement of the module body that contains ``node``."""
    for candidate in [node, *ctx.model.ancestors(node)]:
        if ctx.model.parent(candidate) is ctx.tree:
            return candidate
    return None


def _defined_before(ctx: "Context", binding_node: cst.CSTNode, top: cst.CSTNode) -> bool:
    """Bound by a plain module-level statement above ``top`` (not under ``if TYPE_CHECKING:``,
    ``try:`` or any other block, which may not run)."""
    statement = top_statement(ctx, binding_node)
    if statement is None or any(isinstance(a, cst.BaseCompoundStatement) and a is not binding_node
                                for a in ctx.model.ancestors(binding_node)):
        return False
    body = list(ctx.tree.body)
    return body.index(statement) < body.index(top)


def is_module_constant(ctx: "Context", expr: cst.CSTNode, scope: Scope, top: cst.CSTNode) -> bool:
    """Would ``expr`` mean the same at module level, just before ``top``? Literals, and
    names bound once at module level before ``top`` (and their attributes), and SQLAlchemy
    constructors of those (``sessionmaker(bind=engine)`` inside ``scoped_session(...)``)."""
    if isinstance(expr, (cst.SimpleString, cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.ConcatenatedString):
        return all(is_module_constant(ctx, part, scope, top) for part in (expr.left, expr.right))
    if isinstance(expr, cst.Name):
        if expr.value in ("True", "False", "None"):
            return True
        binding = ctx.model.single_binding(expr.value, scope)
        return (binding is not None and binding.scope is ctx.model.root
                and binding.kind in ("import", "assign", "annassign", "def", "class")
                and _defined_before(ctx, binding.node, top))
    if isinstance(expr, cst.Attribute):
        return is_module_constant(ctx, expr.value, scope, top)
    if isinstance(expr, cst.Call):  # only SQLAlchemy's own constructors: no side effects moved
        qualified = ctx.qualified_name(expr.func, scope) or ""
        return (qualified.startswith(sqla.SQLALCHEMY_MODULES)
                and call_is_module_constant(ctx, expr, scope, top))
    if isinstance(expr, (cst.Tuple, cst.List)):
        return all(is_module_constant(ctx, e.value, scope, top) for e in expr.elements
                   if isinstance(e, cst.Element))
    return False


def call_is_module_constant(ctx: "Context", call: cst.Call, scope: Scope, top: cst.CSTNode) -> bool:
    return (is_module_constant(ctx, call.func, scope, top)
            and all(arg.star == "" and is_module_constant(ctx, arg.value, scope, top) for arg in call.args))


# Names already given out in this lint pass, per model: fixes of one pass are applied
# together, so two hoists must not pick the same free name.
_GIVEN: "weakref.WeakKeyDictionary[Model, set[str]]" = weakref.WeakKeyDictionary()
# The names a module already uses, per model (each hoist of a file asks).
_TAKEN: "weakref.WeakKeyDictionary[Model, set[str]]" = weakref.WeakKeyDictionary()


def unused_name(ctx: "Context", base: str) -> str:
    """``base``, or ``base_2``..., the first no name of the module is (nor any identifier
    of its original text: a pruned analysis sees stubs where definitions were, and picks
    the name a whole one would)."""
    given = _GIVEN.setdefault(ctx.model, set())
    taken = _TAKEN.get(ctx.model)
    if taken is None:
        taken = _TAKEN[ctx.model] = _identifiers(ctx)
        for scope in ctx.model.scopes():
            taken.update(scope.bindings)
            taken.update(name.value for name in scope.names)
    name, n = base, 2
    while name in taken or name in given:
        name, n = f"{base}_{n}", n + 1
    given.add(name)
    return name


# The ast fields that hold identifiers: names, attributes, keywords, definitions, imports.
_IDENTIFIER_FIELDS = ("id", "attr", "arg", "name", "asname", "module", "rest")


def _identifiers(ctx: "Context") -> set[str]:
    """Every identifier of the module as written (``ctx.syntax``: the original, when the
    analysis was pruned); none when ``ast`` cannot parse it (then nothing is pruned)."""
    tree = ctx.syntax
    if tree is None:
        try:
            tree = newer_syntax.parse(ctx.source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        for field in _IDENTIFIER_FIELDS:
            value = getattr(node, field, None)
            if isinstance(value, str):
                found.update(value.split("."))
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            found.update(node.names)
    return found


def hoist(ctx: "Context", call: cst.Call, scope: Scope, base_name: str):
    """A change that binds ``call`` to a new module-level name just above the top-level
    statement that contains it, and uses that name in its place; None when the call's
    arguments are not all module-level names or constants."""
    top = top_statement(ctx, call)
    if top is None or not isinstance(top, (cst.FunctionDef, cst.ClassDef)):
        return None
    if not call_is_module_constant(ctx, call, scope, top):
        return None
    name = unused_name(ctx, base_name)
    assignment = cst.SimpleStatementLine(
        [cst.Assign([cst.AssignTarget(cst.Name(name))], call)], leading_lines=top.leading_lines)
    replaced = top.deep_replace(call, cst.Name(name)).with_changes(
        leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    return top, cst.FlattenSentinel([assignment, replaced])
