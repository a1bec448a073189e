"""Escape analysis: what becomes of a value made inside a function.

``fate(ctx, expr)`` follows an expression (a ``create_engine(...)`` call, a ``SessionLocal()``
call) through the local name it is bound to and answers one of :class:`Fate`. It reads the
model's parents and name loads only; it never walks the tree. Shy like inference: any use
it does not understand counts as an escape, and rules stay silent on escapes.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Iterable

import libcst as cst

from sqlalint import sqla
from sqlalint.model import Scope

if TYPE_CHECKING:
    from sqlalint.context import Context


class Fate(enum.IntEnum):
    """Ordered by precedence: when uses disagree, the lowest wins."""

    CLOSED = 0  # closed/disposed in the function (``with``, ``.close()``, ``.dispose()``)
    ESCAPES = 1  # goes somewhere the analysis cannot follow: another call, self, an alias
    KEPT = 2  # stored where it lives for the process: a global, a module dict, a class
    RETURNED = 3  # returned or yielded to the caller
    DROPPED = 4  # used (or not) and left for the garbage collector


# Constructors that keep a reference to the Engine they are given: the engine lives as
# long as what they make.
BINDERS = (sqla.SESSIONMAKERS | sqla.ASYNC_SESSIONMAKERS | sqla.SCOPED_SESSIONS
           | sqla.SESSION_CLASSES | sqla.ASYNC_SESSION_CLASSES)
# Methods that use an Engine (or Session) argument for the call only and keep no reference.
_USING_METHODS = frozenset({"create_all", "drop_all", "reflect", "read_sql", "read_sql_query",
                            "read_sql_table", "to_sql"})
# Parents under which a name load is a plain use (a test, a comparison), not an escape.
_PLAIN_USES = (cst.Comparison, cst.ComparisonTarget, cst.BooleanOperation, cst.UnaryOperation,
               cst.If, cst.While, cst.IfExp, cst.Assert, cst.Del)

MAX_DEPTH = 6


def fate(ctx: "Context", expr: cst.BaseExpression, closers: Iterable[str] = (),
         follow_carriers: bool = False) -> Fate:
    """What becomes of the value of ``expr``.

    ``closers``: method names that release it (``close``, ``dispose``). With
    ``follow_carriers`` (for an Engine), a Session or factory bound to it carries it: the
    engine's fate is the carrier's, except that closing a Session does not dispose the engine.
    """
    return _Tracker(ctx, frozenset(closers), follow_carriers).of_expr(expr, 0)


def function_scope(scope: Scope) -> Scope:
    """The scope whose call runs ``scope``'s code: comprehensions run in their parent."""
    while scope.kind == "comprehension" and scope.parent is not None:
        scope = scope.parent
    return scope


def module_level_name(ctx: "Context", name: cst.Name, scope: Scope) -> bool:
    """Is ``name`` (loaded in ``scope``) a name bound at module level or in a class body?"""
    binding = ctx.model.single_binding(name.value, scope)
    return binding is not None and binding.scope.kind in ("module", "class")


class _Tracker:
    def __init__(self, ctx: "Context", closers: frozenset, follow_carriers: bool):
        self.ctx = ctx
        self.model = ctx.model
        self.closers = closers
        self.follow = follow_carriers

    def of_expr(self, expr: cst.CSTNode, depth: int) -> Fate:
        if depth > MAX_DEPTH:
            return Fate.ESCAPES
        scope = self.model.scope(expr)  # calls and names are recorded; statements are not
        parent = self.model.parent(expr)
        while isinstance(parent, cst.Await):
            expr, parent = parent, self.model.parent(parent)
        if isinstance(parent, cst.Assign) and parent.value is expr:
            if len(parent.targets) != 1:
                return Fate.ESCAPES
            return self.of_target(parent.targets[0].target, scope, depth)
        if isinstance(parent, cst.AnnAssign) and parent.value is expr:
            return self.of_target(parent.target, scope, depth)
        if isinstance(parent, (cst.Return, cst.Yield)):
            return Fate.RETURNED
        if isinstance(parent, cst.Expr):
            return Fate.DROPPED
        if isinstance(parent, cst.WithItem) and parent.item is expr:
            return Fate.CLOSED
        if isinstance(parent, cst.Attribute) and parent.value is expr:
            return Fate.CLOSED if parent.attr.value in self.closers else Fate.DROPPED
        if isinstance(parent, cst.Call) and parent.func is expr:
            # Calling a factory: the Session it opens carries the factory's engine.
            return self.carried(parent, depth) if self.follow else Fate.DROPPED
        if isinstance(parent, cst.Arg) and parent.value is expr:
            return self.as_argument(parent, depth)
        if isinstance(parent, _PLAIN_USES):
            return Fate.DROPPED
        return Fate.ESCAPES

    def carried(self, carrier: cst.Call, depth: int) -> Fate:
        found = self.of_expr(carrier, depth + 1)
        # A Session or factory that is closed or dropped leaves the engine undisposed.
        return Fate.DROPPED if found is Fate.CLOSED else found

    def as_argument(self, arg: cst.Arg, depth: int) -> Fate:
        call = self.model.parent(arg)
        if not isinstance(call, cst.Call):
            return Fate.ESCAPES
        scope = self.model.scope(call)
        qualified = self.ctx.qualified_name(call.func, scope)
        if self.follow and qualified in BINDERS:
            return self.carried(call, depth)
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in _USING_METHODS:
            return Fate.DROPPED
        return Fate.ESCAPES

    def of_target(self, target: cst.BaseExpression, scope: Scope, depth: int) -> Fate:
        if isinstance(target, cst.Name):
            owner = function_scope(scope)
            if owner.kind in ("module", "class") or target.value in owner.globals:
                return Fate.KEPT
            if owner.kind != "function" or target.value in owner.nonlocals:
                return Fate.ESCAPES
            return self.of_local(target.value, owner, depth)
        if isinstance(target, (cst.Attribute, cst.Subscript)):
            root = target
            while isinstance(root, (cst.Attribute, cst.Subscript)):
                root = root.value
            if isinstance(root, cst.Name) and (
                    root.value == "cls" or module_level_name(self.ctx, root, scope)):
                return Fate.KEPT  # a class attribute, a module dict or cache
            return Fate.ESCAPES  # self.x, an argument's attribute: it outlives the call
        return Fate.ESCAPES

    def of_local(self, name: str, owner: Scope, depth: int) -> Fate:
        """Combine the fates of every load of the local ``name`` of function ``owner``."""
        bindings = owner.bindings.get(name, [])
        result = Fate.DROPPED
        for scope in owner.walk():
            for load in scope.names:
                if load.value != name or self.model.lookup(name, scope) is not bindings:
                    continue
                if function_scope(scope) is not owner:
                    return Fate.ESCAPES  # captured by a nested function or lambda
                found = self.of_load(load, depth)
                if found is Fate.CLOSED:
                    return Fate.CLOSED
                result = min(result, found)
        return result

    def of_load(self, load: cst.Name, depth: int) -> Fate:
        parent = self.model.parent(load)
        if isinstance(parent, cst.Assign) and parent.value is load:
            target = parent.targets[0].target if len(parent.targets) == 1 else None
            if isinstance(target, cst.Name):
                scope = function_scope(self.model.scope(load))
                return Fate.KEPT if target.value in scope.globals else Fate.ESCAPES  # an alias
        if isinstance(parent, cst.Call) and parent.func is load:
            return self.carried(parent, depth) if self.follow else Fate.DROPPED
        return self.of_expr(load, depth + 1)
