from __future__ import annotations

from typing import Iterator

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.escape import Fate, fate, function_scope
from sqlalint.lifetime import hoist, runs_once
from sqlalint.model import Scope
from sqlalint.rule import Applicability, Example, Fix, Report, Rule

_FACTORIES = sqla.SESSIONMAKERS | sqla.ASYNC_SESSIONMAKERS | sqla.SCOPED_SESSIONS


class SessionFactoryPerCall(Rule):
    """
    ## What it does
    Checks for `sessionmaker(...)`, `async_sessionmaker(...)` and `scoped_session(...)`
    built inside a function on every call, then used or returned and dropped.

    ## Why is this bad?
    A session factory holds the configuration every Session shares; building one per call
    costs time on every request and usually comes with an engine built per call too. A
    `scoped_session` built per call is worse: its thread-local registry is new each time,
    so it never hands back the thread's Session and nothing ever removes it.

    Silent, as for SLA101, when the factory is made once: at module level, in a cached
    function, a pytest fixture, a function called at import time, or when it is stored in a
    module global, a module-level dict, a class attribute or on `self`.

    ## Example
    ```python
    def get_session():
        return sessionmaker(bind=engine)()
    ```

    ## Use instead
    ```python
    SessionLocal = sessionmaker(bind=engine)

    def get_session():
        return SessionLocal()
    ```

    ## Fix safety
    When every argument of the factory is a module-level name or a literal, the fix moves
    the factory to a new module-level name and uses it. It is unsafe: the factory is now
    shared, and a `scoped_session` now hands each thread the same Session until `remove()`.

    ## Options
    None.
    """

    code = "SLA206"
    name = "session-factory-per-call"
    summary = "sessionmaker / scoped_session built on every call"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
import functools
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)
_registries = {}

@functools.lru_cache(maxsize=None)
def get_factory():
    return sessionmaker(bind=engine)

def configure(url):
    global Session
    Session = scoped_session(sessionmaker(bind=create_engine(url)))

def registry(name):
    _registries[name] = scoped_session(SessionLocal)
    return _registries[name]

class Repository:
    def __init__(self, bind):
        self.factory = sessionmaker(bind=bind)

def make_factory():
    return sessionmaker(bind=engine)

Factory = make_factory()
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

engine = create_engine("sqlite://")


def get_session():
    return scoped_session(sessionmaker(bind=engine))()  # error: 12


def get_factory(bind):
    return sessionmaker(bind=bind)  # error
""", fixed="""\
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

engine = create_engine("sqlite://")


SCOPED_SESSION = scoped_session(sessionmaker(bind=engine))


def get_session():
    return SCOPED_SESSION()  # error: 12


def get_factory(bind):
    return sessionmaker(bind=bind)  # error
"""),
        Example("""\
import sqlalchemy.ext.asyncio as sa_async

async_engine = sa_async.create_async_engine("sqlite+aiosqlite://")


async def read():
    factory = sa_async.async_sessionmaker(async_engine, expire_on_commit=False)  # error: 15
    async with factory() as session:
        return await session.scalar(1)
""", fixed="""\
import sqlalchemy.ext.asyncio as sa_async

async_engine = sa_async.create_async_engine("sqlite+aiosqlite://")


SESSION_FACTORY = sa_async.async_sessionmaker(async_engine, expire_on_commit=False)


async def read():
    factory = SESSION_FACTORY  # error: 15
    async with factory() as session:
        return await session.scalar(1)
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            for call in scope.calls:
                qualified = ctx.qualified_name(call.func, scope)
                if qualified not in _FACTORIES or _inside_factory(ctx, call):
                    continue
                owner = function_scope(scope)
                if owner.kind != "function" or runs_once(ctx, owner):
                    continue
                if fate(ctx, call) not in (Fate.RETURNED, Fate.DROPPED):
                    continue
                yield self._report(ctx, call, scope, owner, qualified)

    def _report(self, ctx: Context, call: cst.Call, scope: Scope, owner: Scope, qualified: str) -> Report:
        made = ctx.code(call.func)
        where = f"{ctx.path}:{ctx.line(owner.node)}"
        scoped = qualified in sqla.SCOPED_SESSIONS
        extra = (": a scoped_session built per call has no thread-local reuse at all, and nothing "
                 "removes its Session" if scoped else "")
        message = (f"`{made}(...)` is built on every call of `{owner.name}` ({where}){extra}; create the "
                   f"{'registry' if scoped else 'session factory'} once at module level and reuse it")
        base = "SCOPED_SESSION" if scoped else "SESSION_FACTORY"
        change = hoist(ctx, call, scope, base)
        fix = None
        if change is not None:
            fix = Fix("Create the factory once at module level", Applicability.UNSAFE, [change])
        return Report(call, message, fix)


def _inside_factory(ctx: Context, call: cst.Call) -> bool:
    """``scoped_session(sessionmaker(...))``: only the outermost factory is reported."""
    parent = ctx.model.parent(call)
    if not isinstance(parent, cst.Arg):
        return False
    outer = ctx.model.parent(parent)
    return (isinstance(outer, cst.Call)
            and ctx.qualified_name(outer.func, ctx.model.scope(outer)) in _FACTORIES)
