"""What a query chain loads: shared by SLA301 (unbounded-load) and SLA302 (len-of-all).

A chain is read from its end back to its origin: ``session.query(M)`` / ``M.query`` (a 1.x
``Query``), or ``session.execute(stmt)`` / ``scalars(stmt)`` / ``exec(stmt)`` with ``stmt`` a
``select(...)`` (2.0 style). A local variable in the chain (``q.all()``, ``execute(stmt)``)
is followed through every assignment to it in that function, so a narrowing in any branch
(``stmt = stmt.where(...)`` under an ``if``) counts. Anything the analysis does not know
(a helper that receives the query, an unknown method, a session it cannot infer) gives
``None``: the rules stay silent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.sqla import NEUTRAL, SESSION_STATEMENT_METHODS
from sqlalint.context import Context
from sqlalint.infer import Kind, Value
from sqlalint.model import Scope

# Methods that bound what is loaded (a filter, a limit, a single row, groups).
NARROWING = frozenset({
    "filter", "filter_by", "where", "limit", "slice", "get", "paginate", "group_by", "offset",
    "having", "fetch", "with_parent", "first", "one", "one_or_none", "scalar", "scalar_one",
    "scalar_one_or_none", "get_or_404", "first_or_404", "one_or_404", "exists",
})
# Methods that stream instead of buffering every row.
STREAMING = frozenset({"yield_per", "partitions", "stream", "stream_scalars"})
STREAMING_OPTIONS = frozenset({"yield_per", "stream_results", "max_row_buffer"})


@dataclass
class Chain:
    """What a query expression loads."""

    style: str  # "query" (1.x Query) or "select" (2.0 statement run by a session)
    models: list[tuple[Value, cst.BaseExpression]] = field(default_factory=list)  # entities
    narrowed: bool = False
    streamed: bool = False
    aggregate: bool = False
    is_async: bool = False
    session: Optional[Value] = None
    session_call: Optional[cst.Call] = None  # execute/scalars/exec, for 2.0 style
    statement: Optional[cst.BaseExpression] = None  # the statement argument of session_call
    plain_select: bool = False  # the statement is exactly ``select(M)``
    methods: list[str] = field(default_factory=list)  # applied after the origin, outermost last

    @property
    def unbounded(self) -> bool:
        return bool(self.models) and not (self.narrowed or self.streamed or self.aggregate)


class ChainReader:
    """Reads query chains of one file; memoises variable histories."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._busy: set[int] = set()

    # -- public -------------------------------------------------------------------------
    def read(self, expr: cst.BaseExpression, scope: Scope) -> Optional[Chain]:
        """The chain ``expr`` evaluates (the receiver of ``.all()``, or an iterated query)."""
        outer: list[tuple[str, cst.Call]] = []
        is_async = False
        while True:
            if isinstance(expr, cst.Await):
                is_async = True
                expr = expr.expression
                continue
            if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
                name = expr.func.attr.value
                owner = expr.func.value
                if name == "query" or name in SESSION_STATEMENT_METHODS:
                    session = self._session(owner, scope)
                    if session is not None:
                        chain = (self._query_origin(expr, scope) if name == "query"
                                 else self._statement_origin(expr, scope))
                        if chain is None:
                            return None
                        chain.session = session
                        break
                outer.append((name, expr))
                expr = owner
                continue
            if isinstance(expr, cst.Attribute) and expr.attr.value == "query":
                model = self.ctx.infer(expr.value, scope)
                if model is None or model.kind is not Kind.MODEL:
                    return None
                chain = Chain("query", models=[(model, expr.value)])
                break
            if isinstance(expr, cst.Name):
                chain = self._history(expr, scope, self.read)
                if chain is None:
                    return None
                break
            return None
        chain.is_async = chain.is_async or is_async
        for name, call in reversed(outer):
            if not self._apply(chain, name, call, scope):
                return None
        return chain

    def large(self, chain: Chain, scope: Scope) -> list[tuple[Value, cst.BaseExpression]]:
        """The chain's models that the configuration counts as large."""
        settings = self.ctx.settings
        sizes = settings.table_size_map
        found = []
        for value, expr in chain.models:
            names = {value.name or ""}
            qualified = self.ctx.qualified_name(expr, scope)
            if qualified:
                names.add(qualified)
            if any(fnmatchcase(n, p) for n in names for p in settings.small_models):
                continue
            if not any(fnmatchcase(n, p) for n in names for p in settings.large_models):
                continue
            if sizes is not None and (value.table is None or sizes.get(value.table, -1) < settings.large_table_rows):
                continue
            found.append((value, expr))
        return found

    # -- origins ------------------------------------------------------------------------
    def _session(self, expr: cst.BaseExpression, scope: Scope) -> Optional[Value]:
        value = self.ctx.infer(expr, scope)
        if value is not None and value.kind in (Kind.SESSION, Kind.SCOPED_REGISTRY):
            return value
        return None

    def _query_origin(self, call: cst.Call, scope: Scope) -> Optional[Chain]:
        chain = Chain("query")
        return chain if self._entities(chain, call.args, scope) else None

    def _statement_origin(self, call: cst.Call, scope: Scope) -> Optional[Chain]:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if not positional:
            return None
        statement = positional[0].value
        chain = self._statement(statement, scope)
        if chain is None:
            return None
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "execution_options" and _streams(arg.value):
                chain.streamed = True
        chain.session_call = call
        chain.statement = statement
        return chain

    def _statement(self, expr: cst.BaseExpression, scope: Scope) -> Optional[Chain]:
        """A ``select(...)`` chain, or a local variable bound to one."""
        outer: list[tuple[str, cst.Call]] = []
        while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            outer.append((expr.func.attr.value, expr))
            expr = expr.func.value
        if isinstance(expr, cst.Call):
            if self.ctx.qualified_name(expr.func, scope) not in sqla.SELECT_CONSTRUCTORS:
                return None
            chain = Chain("select")
            if not self._entities(chain, expr.args, scope):
                return None
            chain.plain_select = not outer
        elif isinstance(expr, cst.Name):
            chain = self._history(expr, scope, self._statement)
            if chain is None:
                return None
        else:
            return None
        for name, call in reversed(outer):
            if not self._apply(chain, name, call, scope):
                return None
        return chain

    def _entities(self, chain: Chain, args, scope: Scope) -> bool:
        """``(M)``, ``(M.id, M.kind)``: models or their columns; any aggregate bounds it."""
        if not args:
            return False
        for arg in args:
            if arg.keyword is not None or arg.star:
                return False
            expr = arg.value
            if isinstance(expr, cst.Call):
                func = expr.func
                if isinstance(func, cst.Attribute) and self.ctx.qualified_name(func.value, scope) in sqla.FUNC:
                    chain.aggregate = True
                    continue
                return False
            owner = expr.value if isinstance(expr, cst.Attribute) else expr
            value = self.ctx.infer(owner, scope)
            if value is None or value.kind is not Kind.MODEL:
                return False
            chain.models.append((value, owner))
        return True

    def _is_model_or_relationship(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        owner = expr.value if isinstance(expr, cst.Attribute) else expr
        value = self.ctx.infer(owner, scope)
        return value is not None and value.kind is Kind.MODEL

    # -- variables ----------------------------------------------------------------------
    def _history(self, name: cst.Name, scope: Scope, read) -> Optional[Chain]:
        """Every assignment to a local query/statement variable: one origin (or several
        that agree) plus refinements of itself; a narrowing in any of them counts."""
        if scope.kind != "function":
            return None
        bindings = scope.bindings.get(name.value)
        if not bindings or scope.globals or name.value in scope.nonlocals:
            return None
        key = id(name)
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            chains = []
            origins = 0
            for binding in bindings:
                if binding.kind != "assign" or binding.value is None:
                    return None
                root = _root(binding.value)
                refines = isinstance(root, cst.Name) and root.value == name.value
                if refines:
                    chain = self._refinement(binding.value, scope, read, name.value)
                else:
                    origins += 1
                    chain = read(binding.value, scope)
                if chain is None:
                    return None
                chains.append(chain)
        finally:
            self._busy.discard(key)
        if not origins or len({c.style for c in chains if c.models or c.aggregate}) > 1:
            return None
        merged = next((c for c in chains if c.models or c.aggregate), None)
        if merged is None:
            return None
        for other in chains:
            if other is merged:
                continue
            merged.narrowed |= other.narrowed
            merged.streamed |= other.streamed
            merged.aggregate |= other.aggregate
            merged.is_async |= other.is_async
            merged.plain_select = False
            merged.models += [m for m in other.models if all(m[0] is not k[0] for k in merged.models)]
        if len(chains) > 1:
            merged.plain_select = False
        return merged

    def _refinement(self, expr: cst.BaseExpression, scope: Scope, read, name: str) -> Optional[Chain]:
        """``stmt.where(...).limit(...)`` applied to the variable itself: only its methods."""
        chain = Chain("refinement")
        while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            if not self._apply(chain, expr.func.attr.value, expr, scope):
                return None
            expr = expr.func.value
        return chain if isinstance(expr, cst.Name) and expr.value == name else None

    # -- methods ------------------------------------------------------------------------
    def _apply(self, chain: Chain, name: str, call: cst.Call, scope: Scope) -> bool:
        """Record one method call; False when it is not one the analysis understands."""
        chain.methods.append(name)
        if name in NARROWING:
            chain.narrowed = True
        elif name in STREAMING:
            chain.streamed = True
        elif name == "execution_options":
            if any(a.keyword is not None and a.keyword.value in STREAMING_OPTIONS for a in call.args):
                chain.streamed = True
        elif name in ("join", "outerjoin", "join_from", "outerjoin_from"):
            # Joining a model (or a relationship) keeps every row; an explicit ON clause or a
            # joined subquery may filter: treat those as bounded (stay silent).
            positional = [a.value for a in call.args if a.keyword is None]
            first = 1 if name.endswith("_from") else 0  # join_from(left, right, onclause)
            target = positional[first] if len(positional) > first else None
            if len(positional) > first + 1 or target is None \
                    or any(a.keyword is not None and a.keyword.value == "onclause" for a in call.args) \
                    or not self._is_model_or_relationship(target, scope):
                chain.narrowed = True
        elif name not in NEUTRAL:
            return False
        return True


def _root(expr: cst.BaseExpression) -> cst.BaseExpression:
    while True:
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            expr = expr.func.value
        elif isinstance(expr, cst.Await):
            expr = expr.expression
        else:
            return expr


def _streams(options: cst.BaseExpression) -> bool:
    """``execution_options={"yield_per": 100}`` passed to ``session.execute``."""
    if isinstance(options, cst.Dict):
        return any(isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
                   and e.key.evaluated_value in STREAMING_OPTIONS for e in options.elements)
    return True  # a variable: it may stream; stay silent


def all_call_receiver(call: cst.Call) -> Optional[cst.BaseExpression]:
    """``X`` when ``call`` is ``X.all()``."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value == "all" and not call.args:
        return func.value
    return None


def model_label(chain: Chain) -> str:
    names = []
    for value, _ in chain.models:
        if value.name and value.name not in names:
            names.append(value.name)
    return ", ".join(f"`{n}`" for n in names)


def len_call_of(ctx: Context, all_call: cst.Call) -> Optional[cst.Call]:
    """The builtin ``len(...)`` call whose only argument is ``all_call``."""
    arg = ctx.model.parent(all_call)
    call = ctx.model.parent(arg) if isinstance(arg, cst.Arg) else None
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "len"
            and len(call.args) == 1 and arg.keyword is None and not arg.star):
        return None
    if ctx.model.lookup("len", ctx.model.scope(call)):
        return None  # a local or imported ``len``, not the builtin
    return call


def contains(ctx: Context, outer: cst.CSTNode, node: cst.CSTNode) -> bool:
    return node is outer or outer in set(ctx.model.ancestors(node))


def replacing(ctx: Context, old: cst.BaseExpression, new: cst.BaseExpression) -> cst.BaseExpression:
    """``new`` ready to take ``old``'s place: ``old``'s parentheses kept, and parentheses
    added when ``new`` spans lines (it may leave the brackets that allowed that)."""
    if old.lpar:
        return new.with_changes(lpar=old.lpar, rpar=old.rpar)
    if "\n" in ctx.code(new) and not new.lpar:
        return new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return new
