"""What an expression is: an Engine, a session factory, a Session, a model...

Inference is flow-insensitive and deliberately shy: a name bound more than once, a value
that comes from somewhere the analysis cannot see, or an import it does not know gives
``None``, and rules stay silent on ``None``.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.model import Binding, Model, Scope, dotted_name
from sqlalint.values import Kind, Value, configured_or_api_value, constructed_kind  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from sqlalint.index import ProjectIndex


class Inference:
    """Answers "what is this expression?" for one module, memoised."""

    MAX_DEPTH = 12

    def __init__(self, model: Model, index: Optional["ProjectIndex"] = None,
                 session_factories: frozenset = frozenset(), engine_factories: frozenset = frozenset()):
        self.model = model
        self.index = index
        self.session_factories = session_factories
        self.engine_factories = engine_factories
        self._memo: dict[tuple[int, int], Optional[Value]] = {}
        self._busy: set[tuple[int, int]] = set()

    # -- public ---------------------------------------------------------------------------
    def infer(self, expr: cst.CSTNode, scope: Optional[Scope] = None) -> Optional[Value]:
        scope = scope if scope is not None else self.model.scope(expr)
        key = (id(expr), id(scope))
        if key in self._memo:
            return self._memo[key]
        if key in self._busy or len(self._busy) > self.MAX_DEPTH:
            return None  # a cycle (x = f(x)) or a chain too long to be worth following
        self._busy.add(key)
        try:
            value = self._infer(expr, scope)
        finally:
            self._busy.discard(key)
        self._memo[key] = value
        return value

    def qualified_name(self, expr: cst.CSTNode, scope: Optional[Scope] = None) -> Optional[str]:
        scope = scope if scope is not None else self.model.scope(expr)
        return self.model.qualified_name(expr, scope)

    def is_api(self, expr: cst.CSTNode, names: frozenset, scope: Optional[Scope] = None) -> bool:
        """Does ``expr`` resolve to one of the qualified ``names``?"""
        return self.qualified_name(expr, scope) in names

    def function_value(self, node: cst.FunctionDef) -> Value:
        """What a function defined in this file returns or yields."""
        scope = self.model.scope_of_node[node]
        key = (id(node), -1)
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        if key in self._busy:
            return Value(Kind.FUNCTION, node=node, name=node.name.value)
        self._busy.add(key)
        try:
            returns = self._agree([self.infer(r.value, scope) for r in scope.returns if r.value is not None])
            if returns is None and not scope.yields and node.returns is not None:
                returns = self._annotation(node.returns.annotation, scope.parent or self.model.root)
            yields = self._agree([self.infer(y.value, scope) for y in scope.yields
                                  if isinstance(y.value, cst.BaseExpression)])
        finally:
            self._busy.discard(key)
        value = Value(Kind.FUNCTION, is_async=node.asynchronous is not None, node=node,
                      name=node.name.value, returns=returns, yields=yields)
        self._memo[key] = value
        return value

    # -- inference by node type -----------------------------------------------------------
    def _infer(self, expr: cst.CSTNode, scope: Scope) -> Optional[Value]:
        if isinstance(expr, cst.Name):
            return self._infer_name(expr, scope)
        if isinstance(expr, cst.Attribute):
            return self._infer_attribute(expr, scope)
        if isinstance(expr, cst.Call):
            return self._infer_call(expr, scope)
        if isinstance(expr, cst.Await):
            return self.infer(expr.expression, scope)
        return None

    def _infer_name(self, expr: cst.Name, scope: Scope) -> Optional[Value]:
        binding = self.model.single_binding(expr.value, scope)
        if binding is None:
            return None
        return self._infer_binding(binding)

    def _infer_binding(self, binding: Binding) -> Optional[Value]:
        kind = binding.kind
        if kind == "import":
            return self._infer_qualified(binding.qualified)
        if kind in ("assign", "annassign") and binding.value is not None:
            value = self.infer(binding.value, binding.scope)
            if value is None and kind == "annassign":
                annotation = binding.node.annotation.annotation  # type: ignore[attr-defined]
                value = self._annotation(annotation, binding.scope)
            return self._named(value, binding)
        if kind == "annassign":
            return self._annotation(binding.node.annotation.annotation, binding.scope)  # type: ignore[attr-defined]
        if kind == "with":
            manager = self.infer(binding.value, binding.scope) if binding.value is not None else None
            if manager is not None and manager.kind in (Kind.SESSION, Kind.CONNECTION):
                return manager  # Session/Connection.__enter__ return themselves (engine.begin() too)
            if manager is not None and manager.kind is Kind.FUNCTION and manager.yields is not None:
                return manager.yields  # a @contextmanager that yields a Session
            return None
        if kind == "def" and isinstance(binding.node, cst.FunctionDef):
            return self.function_value(binding.node)
        if kind == "class" and isinstance(binding.node, cst.ClassDef):
            return self._infer_class(binding.node, binding.scope)
        if kind == "param" and isinstance(binding.node, cst.Param):
            annotation = binding.node.annotation
            if annotation is not None:
                return self._annotation(annotation.annotation, binding.scope.parent or self.model.root)
        return None

    def _named(self, value: Optional[Value], binding: Binding) -> Optional[Value]:
        """Record the name and place of a value bound at module or class level."""
        if value is None or binding.scope.kind not in ("module", "class"):
            return value
        if value.kind is Kind.FUNCTION:
            return value
        return replace(value, node=binding.node, name=binding.name, path=None, line=None)

    def _infer_qualified(self, qualified: Optional[str]) -> Optional[Value]:
        if qualified is None:
            return None
        value = configured_or_api_value(qualified, self.session_factories, self.engine_factories)
        if value is not None or qualified.startswith(sqla.SQLALCHEMY_MODULES):
            return value
        if self.index is not None:
            return self.index.lookup(qualified)
        return None

    def _infer_attribute(self, expr: cst.Attribute, scope: Scope) -> Optional[Value]:
        qualified = self.model.qualified_name(expr, scope)
        if qualified is not None:
            found = self._infer_qualified(qualified)
            if found is not None:
                return found
        owner = self.infer(expr.value, scope)
        if owner is not None and owner.kind is Kind.FLASK_DB:
            attr = expr.attr.value
            if attr == "session":
                return Value(Kind.SCOPED_REGISTRY, node=owner.node, path=owner.path, line=owner.line,
                             name=f"{owner.name}.session", detail="Flask-SQLAlchemy scoped session",
                             flask=True)
            if attr == "engine":
                return Value(Kind.ENGINE, node=owner.node, path=owner.path, line=owner.line,
                             name=f"{owner.name}.engine", detail="Flask-SQLAlchemy engine", flask=True)
            if attr == "Model":
                return Value(Kind.BASE, node=owner.node, path=owner.path, line=owner.line,
                             name=f"{owner.name}.Model", detail="Flask-SQLAlchemy model base", flask=True)
        return None

    def _infer_call(self, call: cst.Call, scope: Scope) -> Optional[Value]:
        func = call.func
        qualified = self.model.qualified_name(func, scope)
        if qualified is not None:
            made = constructed_kind(qualified)
            if made is not None:
                kind, is_async, detail = made
                if kind is Kind.SESSION_FACTORY and self._makes_async_sessions(call, scope):
                    is_async, detail = True, "sessionmaker(class_=AsyncSession)"
                return Value(kind, is_async=is_async, node=call, detail=detail)
        callee = self.infer(func, scope)
        if callee is None:
            if isinstance(func, cst.Attribute) and func.attr.value in ("connect", "begin"):
                owner = self.infer(func.value, scope)
                if owner is not None and owner.kind is Kind.ENGINE:
                    return Value(Kind.CONNECTION, is_async=owner.is_async, node=call)
            return None
        if callee.is_session_maker:
            return Value(Kind.SESSION, is_async=callee.is_async, node=call, factory=callee,
                         detail="AsyncSession" if callee.is_async else "Session")
        if callee.kind is Kind.SCOPED_REGISTRY:
            return Value(Kind.SESSION, is_async=callee.is_async, node=call, from_registry=callee,
                         detail="Session", flask=callee.flask)
        if callee.kind is Kind.FUNCTION:
            if callee.returns is not None:
                return callee.returns
            if callee.yields is not None and callee.node is not None and _is_contextmanager(callee.node, self):
                return Value(Kind.FUNCTION, node=callee.node, yields=callee.yields)
        return None

    def _makes_async_sessions(self, call: cst.Call, scope: Scope) -> bool:
        """``sessionmaker(engine, class_=AsyncSession)``: the 1.4 spelling of async_sessionmaker."""
        return any(arg.keyword is not None and arg.keyword.value == "class_"
                   and self.model.qualified_name(arg.value, scope) in sqla.ASYNC_SESSION_CLASSES
                   for arg in call.args)

    def _infer_class(self, node: cst.ClassDef, scope: Scope) -> Optional[Value]:
        for base in node.bases:
            qualified = self.model.qualified_name(base.value, scope)
            if qualified in sqla.FLASK_SQLALCHEMY:  # class AppSQLAlchemy(SQLAlchemy): calling it makes a `db`
                return Value(Kind.FUNCTION, node=node, name=node.name.value,
                             returns=Value(Kind.FLASK_DB, detail="Flask-SQLAlchemy extension"))
            if qualified in sqla.DECLARATIVE_BASE_CLASSES:
                if _declares_table(node) or _has_table_keyword(node):
                    table = _table_name(node) or (node.name.value.lower() if _has_table_keyword(node) else None)
                    return Value(Kind.MODEL, node=node, name=node.name.value, table=table)
                return Value(Kind.BASE, node=node, name=node.name.value, detail="declarative base")
            parent = self.infer(base.value, scope)
            if parent is not None and parent.kind in (Kind.BASE, Kind.MODEL):
                if parent.kind is Kind.BASE and not _declares_table(node) and _is_abstract(node):
                    return Value(Kind.BASE, node=node, name=node.name.value, detail="declarative base")
                return Value(Kind.MODEL, node=node, name=node.name.value, flask=parent.flask,
                             table=_model_table(node, parent))
        return None

    def _annotation(self, annotation: cst.BaseExpression, scope: Scope) -> Optional[Value]:
        """A parameter or return annotated with a Session class is a Session."""
        if isinstance(annotation, cst.SimpleString):
            return None
        qualified = self.model.qualified_name(annotation, scope)
        if qualified in sqla.SESSION_CLASSES:
            return Value(Kind.SESSION, detail="Session")
        if qualified in sqla.ASYNC_SESSION_CLASSES:
            return Value(Kind.SESSION, is_async=True, detail="AsyncSession")
        return None

    @staticmethod
    def _agree(values: list[Optional[Value]]) -> Optional[Value]:
        """The common value of every return: all must be known and of one kind."""
        if not values or any(v is None for v in values):
            return None
        first = values[0]
        if all(v.kind is first.kind for v in values):  # type: ignore[union-attr]
            return first
        return None


def _declares_table(node: cst.ClassDef) -> bool:
    for statement in node.body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                targets = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, cst.AnnAssign):
                    targets = [small.target]
                if any(isinstance(t, cst.Name) and t.value in ("__tablename__", "__table__", "id")
                       for t in targets):
                    return True
    return False


def _table_name(node: cst.ClassDef) -> Optional[str]:
    """The literal ``__tablename__ = "x"`` or ``__table__ = Table("x", ...)`` of a class."""
    for statement in node.body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign):
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            else:
                continue
            if not isinstance(target, cst.Name):
                continue
            if target.value == "__table__" and isinstance(value, cst.Call) and value.args:
                value = value.args[0].value
            elif target.value != "__tablename__":
                continue
            if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
                return value.evaluated_value
    return None


_CAMEL = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")


def _model_table(node: cst.ClassDef, parent: Value) -> Optional[str]:
    """A model's table: its literal name; else a subclass without its own primary key shares
    its parent model's table (single-table inheritance); else Flask-SQLAlchemy's default
    snake_case of the class name (``UserRole`` -> ``user_role``)."""
    table = _table_name(node)
    if table is not None:
        return table
    if parent.kind is Kind.MODEL and not _declares_table(node):
        return parent.table
    if parent.flask:
        return _CAMEL.sub(r"_\1", node.name.value).lower().lstrip("_")
    return None


def _has_table_keyword(node: cst.ClassDef) -> bool:
    """SQLModel's ``class Hero(SQLModel, table=True)``."""
    return any(k.keyword is not None and k.keyword.value == "table" for k in node.keywords)


def _is_abstract(node: cst.ClassDef) -> bool:
    for statement in node.body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign) and any(
                        isinstance(t.target, cst.Name) and t.target.value == "__abstract__" for t in small.targets):
                    return True
    return False


def _is_contextmanager(node: cst.CSTNode, inference: Inference) -> bool:
    if not isinstance(node, cst.FunctionDef):
        return False
    scope = inference.model.scope_of_node[node].parent or inference.model.root
    for decorator in node.decorators:
        name = inference.model.qualified_name(decorator.decorator, scope)
        if name in ("contextlib.contextmanager", "contextlib.asynccontextmanager"):
            return True
    return False


__all__ = ["Inference", "Kind", "Value", "constructed_kind", "dotted_name"]
