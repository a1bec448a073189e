from __future__ import annotations

from typing import Iterator

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.infer import Kind, Value
from sqlalint.rule import Applicability, Example, Fix, Report, Rule
from sqlalint.tree_edits import remove_decorator, remove_unused_import


class CachedSession(Rule):
    """
    ## What it does
    Checks for `functools.lru_cache` or `functools.cache` on a function or method that
    returns a Session (or a generator that yields one).

    ## Why is this bad?
    The cache hands the first Session it made to every later caller, in every thread, for
    the life of the process. A Session is not thread-safe, its transaction and identity map
    are shared by unrelated requests, and its connection is never returned to the pool.
    Caching a function that returns an Engine, a `sessionmaker`, an `async_sessionmaker` or
    a `scoped_session` registry is fine: those are meant to be created once.

    ## Example
    ```python
    @functools.lru_cache(maxsize=None)
    def get_session() -> Session:
        return SessionLocal()
    ```

    ## Use instead
    ```python
    def get_session() -> Session:
        return SessionLocal()  # and close it: `with get_session() as session:`
    ```
    or cache the factory, not the Session:
    ```python
    @functools.lru_cache(maxsize=None)
    def get_sessionmaker() -> sessionmaker:
        return sessionmaker(bind=get_engine())
    ```

    ## Fix safety
    The fix removes the decorator (and its import when nothing else uses it). It is unsafe:
    callers that relied on getting the same Session back (to commit what another call
    added) now get a new one each time.

    ## Options
    - `session-factories`: callables the analysis cannot see into that return a Session.
    """

    code = "SLA201"
    name = "cached-session"
    summary = "functools cache on a function that returns a Session"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
import functools
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

@functools.lru_cache(maxsize=None)
def get_engine():
    return create_engine("sqlite://")

@functools.cache
def get_factory():
    return sessionmaker(bind=get_engine())

@functools.cache
def get_registry():
    return scoped_session(get_factory())

def get_session():
    return get_factory()()
"""),
        Example("""\
from functools import lru_cache
import requests

@lru_cache
def http():
    return requests.Session()

@lru_cache
def Session():
    return 1
"""),
    ]
    invalid = [
        Example("""\
import functools
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker()

@functools.lru_cache(maxsize=None)  # error: 1
def get_session() -> Session:
    return SessionLocal()
""", fixed="""\
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker()

# error: 1
def get_session() -> Session:
    return SessionLocal()
"""),
        Example("""\
from functools import cache, lru_cache
from sqlalchemy.ext.asyncio import async_sessionmaker

factory = async_sessionmaker()

@lru_cache  # keep this comment
def get_factory():
    return factory

class Repository:
    @cache  # error: 5
    def session(self):
        return factory()
""", fixed="""\
from functools import lru_cache
from sqlalchemy.ext.asyncio import async_sessionmaker

factory = async_sessionmaker()

@lru_cache  # keep this comment
def get_factory():
    return factory

class Repository:
    # error: 5
    def session(self):
        return factory()
"""),
        Example("""\
import functools
from sqlalchemy.orm import Session

@functools.cache  # error
def session_for(engine):
    with Session(engine) as session:
        yield session

@functools.lru_cache()
def helper():
    return functools.partial(print)
""", fixed="""\
import functools
from sqlalchemy.orm import Session

# error
def session_for(engine):
    with Session(engine) as session:
        yield session

@functools.lru_cache()
def helper():
    return functools.partial(print)
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            node = scope.node
            if not isinstance(node, cst.FunctionDef) or not node.decorators:
                continue
            for decorator in node.decorators:
                expr = decorator.decorator
                target = expr.func if isinstance(expr, cst.Call) else expr
                outer = scope.parent or ctx.model.root
                cache = ctx.qualified_name(target, outer)
                if cache not in sqla.FUNCTOOLS_CACHES:
                    continue
                value = ctx.inference.function_value(node)
                session = _session_given(value)
                if session is None:
                    continue
                yield Report(decorator, self._message(ctx, node, cache, session, value),
                             self._fix(ctx, node, decorator, target, outer))

    @staticmethod
    def _message(ctx: Context, node: cst.FunctionDef, cache: str, session: Value, value: Value) -> str:
        verb = "returns" if value.returns is not None else "yields"
        source = session.factory or session.from_registry
        proof = f" ({ctx.evidence(source)})" if source is not None and source.name else ""
        if source is not None and source.name:
            factory = source.name
        elif isinstance(session.node, cst.Call):
            factory = ctx.code(session.node.func)
        else:
            factory = "SessionFactory"
        opener = "async with" if session.is_async else "with"
        return (f"`{node.name.value}` is cached by `{cache}` but {verb} a new Session{proof}: every caller "
                f"shares that one Session and its connection is never returned to the pool; remove the "
                f"cache and open a Session per unit of work (`{opener} {factory}() as session:`)")

    @staticmethod
    def _fix(ctx: Context, node: cst.FunctionDef, decorator: cst.Decorator, target: cst.BaseExpression,
             outer) -> Fix:
        changes = [remove_decorator(node, decorator)]
        root_name = target
        while isinstance(root_name, cst.Attribute):
            root_name = root_name.value
        if isinstance(root_name, cst.Name):
            binding = ctx.model.single_binding(root_name.value, outer)
            if binding is not None:
                removal = remove_unused_import(ctx, binding, {decorator})
                if removal is not None:
                    changes.append(removal)
        return Fix("Remove the cache decorator", Applicability.UNSAFE, changes)


def _session_given(value: Value) -> Value | None:
    """The Session a function returns or yields, if that is what it gives."""
    for given in (value.returns, value.yields):
        if given is not None and given.kind is Kind.SESSION:
            return given
    return None
