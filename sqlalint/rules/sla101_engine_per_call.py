from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.escape import Fate, fate, function_scope
from sqlalint.infer import Kind
from sqlalint.lifetime import hoist, runs_once
from sqlalint.model import Scope
from sqlalint.rule import Applicability, Example, Fix, NodeChange, Report, Rule

_ENGINES = sqla.ENGINE_CONSTRUCTORS | sqla.ASYNC_ENGINE_CONSTRUCTORS


class EnginePerCall(Rule):
    """
    ## What it does
    Checks for `create_engine`, `create_async_engine` (and SQLModel's `create_engine`) in a
    function that builds a new Engine on every call: the function returns it without being
    cached, or uses it and drops it without `dispose()`.

    ## Why is this bad?
    An Engine owns a connection pool. Building one per request, per job or per callback
    opens new connections every time and leaves the old pools to the garbage collector, so
    under load the database runs out of connections ("too many connections", seed 003).
    An Engine is meant to be created once per process and shared.

    Silent for engines made once: at module level, in a function cached with
    `functools.cache`/`lru_cache`, stored in a module global, a module-level dict or a class
    attribute, in a pytest fixture, in `main()` run under `if __name__ == "__main__"` (or any
    function called at import time). Silent too for `poolclass=NullPool`/`StaticPool` (no
    pool to leak) and for engines disposed in the same function.

    ## Example
    ```python
    def get_engine():
        return create_engine(DATABASE_URL)
    ```

    ## Use instead
    ```python
    @functools.cache
    def get_engine():
        return create_engine(DATABASE_URL)
    ```
    or create it once at module level: `engine = create_engine(DATABASE_URL)`.

    ## Fix safety
    For a module-level function that returns the Engine, the fix adds `@functools.cache`
    (and `import functools`). Otherwise, when every argument of the call is a module-level
    name or a literal, the fix moves the engine to a new module-level name and uses it. Both
    are unsafe: the engine is now shared and outlives the call (and a cached factory's
    arguments must be hashable).

    ## Options
    None.
    """

    code = "SLA101"
    name = "engine-per-call"
    summary = "create_engine whose Engine and pool are rebuilt on every call"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
import functools
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

URL = "sqlite://"
engine = create_engine(URL)
_engine = None
_engines = {}

@functools.lru_cache(maxsize=None)
def get_engine():
    return create_engine(URL)

def lazy():
    global _engine
    if _engine is None:
        _engine = create_engine(URL)
    return _engine

def for_tenant(name):
    if name not in _engines:
        _engines[name] = create_engine(URL + name)
    return _engines[name]

class Holder:
    engine = None

    @classmethod
    def get(cls):
        cls.engine = create_engine(URL)
        return cls.engine

def once(url):
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        eng.dispose()

def no_pool(url):
    return create_engine(url, poolclass=NullPool)

@pytest.fixture
def db():
    eng = create_engine(URL)
    yield eng
    eng.dispose()

def make_engine():
    return create_engine(URL)

shared = make_engine()

def main():
    with create_engine(URL).connect() as conn:
        conn.execute(text("SELECT 1"))

if __name__ == "__main__":
    main()
"""),
        Example("""\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

class Service:
    def __init__(self, url):
        self.engine = create_engine(url)

def register(app, url):
    app.state.engine = create_engine(url)

def configure(url):
    global SessionLocal
    SessionLocal = sessionmaker(bind=create_engine(url))

def create_engine_like(url):
    return url
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy import create_engine, text

DATABASE_URL = "postgresql://db/app"


# the health check
def health():
    engine = create_engine(DATABASE_URL)  # error: 14
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
""", fixed="""\
from sqlalchemy import create_engine, text

DATABASE_URL = "postgresql://db/app"


# the health check
ENGINE = create_engine(DATABASE_URL)


def health():
    engine = ENGINE  # error: 14
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
"""),
        Example("""\
from sqlalchemy import create_engine


def get_engine():
    return create_engine("postgresql://db/app")  # error: 12
""", fixed="""\
import functools
from sqlalchemy import create_engine


@functools.cache
def get_engine():
    return create_engine("postgresql://db/app")  # error: 12
"""),
        Example("""\
from functools import lru_cache
import sqlmodel
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import sessionmaker


def get_db_session(url):
    engine = sqlmodel.create_engine(url)  # error: 14
    return sessionmaker(bind=engine)()


async def read(url):
    engine = create_async_engine(url)  # error
    async with engine.connect() as conn:
        return await conn.scalar(1)


def engine_for(url):
    eng = sqlmodel.create_engine(url)  # error
    return eng
""", fixed="""\
from functools import lru_cache
import sqlmodel
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import sessionmaker


def get_db_session(url):
    engine = sqlmodel.create_engine(url)  # error: 14
    return sessionmaker(bind=engine)()


async def read(url):
    engine = create_async_engine(url)  # error
    async with engine.connect() as conn:
        return await conn.scalar(1)


@lru_cache(maxsize=None)
def engine_for(url):
    eng = sqlmodel.create_engine(url)  # error
    return eng
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            for call in scope.calls:
                qualified = ctx.qualified_name(call.func, scope)
                if qualified not in _ENGINES or _without_pool(ctx, call, scope):
                    continue
                owner = function_scope(scope)
                if owner.kind != "function" or runs_once(ctx, owner):
                    continue
                found = fate(ctx, call, ("dispose",), follow_carriers=True)
                if found not in (Fate.RETURNED, Fate.DROPPED):
                    continue
                yield self._report(ctx, call, scope, owner, found)

    def _report(self, ctx: Context, call: cst.Call, scope: Scope, owner: Scope, found: Fate) -> Report:
        function = owner.node
        assert isinstance(function, cst.FunctionDef)
        where = f"{ctx.path}:{ctx.line(function)}"
        made = f"`{ctx.code(call.func)}(...)`"
        returns_engine = self._returns_engine(ctx, function)
        if found is Fate.RETURNED and returns_engine:
            what = (f"`{owner.name}` ({where}) returns a new Engine from {made} on every call and is not "
                    f"cached: each caller gets its own connection pool")
        elif found is Fate.RETURNED:
            what = (f"`{owner.name}` ({where}) builds a new Engine with {made} on every call and hands it "
                    f"out inside what it returns: every call opens a new connection pool")
        else:
            what = (f"{made} in `{owner.name}` ({where}) builds a new Engine and connection pool on every "
                    f"call and drops it without `dispose()`: connections pile up until garbage collection")
        message = (f"{what}; create the engine once (at module level, or in a factory cached with "
                   f"`@functools.cache`) and reuse it")
        fix = None
        if found is Fate.RETURNED and returns_engine:
            fix = _cache_fix(ctx, function, owner)
        elif found is Fate.DROPPED:
            change = hoist(ctx, call, scope, _name_for(ctx, call))
            if change is not None:
                fix = Fix("Create the engine once at module level", Applicability.UNSAFE, [change])
        return Report(call, message, fix)

    @staticmethod
    def _returns_engine(ctx: Context, function: cst.FunctionDef) -> bool:
        returned = ctx.inference.function_value(function).returns
        return returned is not None and returned.kind is Kind.ENGINE


def _without_pool(ctx: Context, call: cst.Call, scope: Scope) -> bool:
    """``poolclass=NullPool`` / ``StaticPool``: no pool to leak."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "poolclass":
            return ctx.qualified_name(arg.value, scope) in sqla.NON_POOLING_POOLS
    return False


def _name_for(ctx: Context, call: cst.Call) -> str:
    parent = ctx.model.parent(call)
    if isinstance(parent, cst.Assign) and isinstance(parent.targets[0].target, cst.Name):
        return parent.targets[0].target.value.upper().lstrip("_") or "ENGINE"
    return "ENGINE"


def _cache_fix(ctx: Context, function: cst.FunctionDef, owner: Scope) -> Optional[Fix]:
    """``@functools.cache`` on a module-level, undecorated, synchronous factory."""
    if owner.parent is not ctx.model.root or function.decorators or function.asynchronous is not None:
        return None
    decorator, import_line = _cache_name(ctx)
    changed = function.with_changes(decorators=[cst.Decorator(cst.parse_expression(decorator))])
    changes: list[NodeChange] = []
    if import_line is None:
        changes.append((function, changed))
    else:
        first = _import_anchor(ctx)
        if first is None:
            return None
        new_import = cst.parse_statement(import_line).with_changes(leading_lines=first.leading_lines)
        if first is function:
            flat = cst.FlattenSentinel([new_import, changed.with_changes(leading_lines=[])])
            changes.append((function, flat))
        else:
            changes.append((first, cst.FlattenSentinel([new_import, first.with_changes(leading_lines=[])])))
            changes.append((function, changed))
    return Fix("Cache the engine factory with `functools.cache`", Applicability.UNSAFE, changes)


def _cache_name(ctx: Context) -> tuple[str, Optional[str]]:
    """The decorator to write, and the import to add (None when one is there already)."""
    root = ctx.model.root
    for name, bindings in root.bindings.items():
        if len(bindings) != 1 or bindings[0].kind != "import":
            continue
        qualified = bindings[0].qualified
        if qualified == "functools":
            return f"{name}.cache", None
        if qualified == "functools.cache":
            return name, None
        if qualified == "functools.lru_cache":
            return f"{name}(maxsize=None)", None
    return "functools.cache", "import functools"


def _import_anchor(ctx: Context) -> Optional[cst.CSTNode]:
    """The statement a new import goes above: the first import that is not
    ``from __future__``, else the first statement after the docstring and those."""
    body = list(ctx.tree.body)
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine) and any(
                isinstance(s, cst.Import) or (isinstance(s, cst.ImportFrom) and not _is_future(s))
                for s in statement.body):
            return statement
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine) and all(
                _is_future(s) or (isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString))
                for s in statement.body):
            continue
        return statement
    return None


def _is_future(small: cst.CSTNode) -> bool:
    return (isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name)
            and small.module.value == "__future__")
