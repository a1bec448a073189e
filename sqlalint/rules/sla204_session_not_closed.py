from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint.context import Context
from sqlalint.escape import Fate, fate, function_scope
from sqlalint.infer import Kind, Value
from sqlalint.model import Scope
from sqlalint.rule import Applicability, Example, Fix, Report, Rule


class SessionNotClosed(Rule):
    """
    ## What it does
    Checks for `x = <Session factory>()` in a function (a `sessionmaker`, the `Session` or
    `AsyncSession` class, an `async_sessionmaker`, or a function that returns a new Session)
    when `x` is never closed (`with`, `async with`, `.close()` anywhere in the function,
    `finally` included) and does not leave the function (returned, yielded, stored on `self`
    or a global, passed to another call).

    A Session bound to a connection it was lent (`Session(bind=op.get_bind())` in an
    Alembic migration) owns no pooled connection and is not reported; only a bind known to
    be an Engine, or none, is.

    ## Why is this bad?
    A Session holds a pooled connection from its first query until it is closed. Left to the
    garbage collector, the connection stays checked out (often "idle in transaction") for as
    long as the object lives; under load the pool runs dry and requests wait for
    `QueuePool limit ... overflow ... reached, connection timed out`.

    Sessions taken from a `scoped_session` registry (Flask-SQLAlchemy's `db.session`
    included) are the registry's to remove (SLA205), not reported here.

    ## Example
    ```python
    def count_rows():
        session = SessionLocal()
        return session.execute(select(1)).scalar()
    ```

    ## Use instead
    ```python
    def count_rows():
        with SessionLocal() as session:
            return session.execute(select(1)).scalar()
    ```

    ## Fix safety
    When the assignment is a statement of the function body itself, the fix wraps the rest
    of the function in `with Factory() as x:` (`async with` for an async Session in an
    `async def`). It is unsafe: the Session is now closed when the block ends, so objects
    still used after it are detached. Otherwise no fix is offered.

    ## Options
    - `session-factories`: callables the analysis cannot see into that return a Session.
    """

    code = "SLA204"
    name = "session-not-closed"
    summary = "a Session opened in a function and never closed"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
from contextlib import contextmanager
import requests
from sqlalchemy.orm import Session, scoped_session, sessionmaker

SessionLocal = sessionmaker()
Registry = scoped_session(SessionLocal)

def with_block():
    with SessionLocal() as session:
        return session.execute(1)

def try_finally():
    session = SessionLocal()
    try:
        return session.execute(1)
    finally:
        session.close()

def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()

def make_session():
    session = SessionLocal()
    return session

def handed_on(repository):
    session = Session()
    repository.use(session)

def migrate(op, other):
    session = Session(bind=op.get_bind())
    session.execute(1)
    nested = Session(bind=other.connection())
    nested.commit()

class Service:
    def __init__(self):
        self.session = SessionLocal()

def thread_local():
    session = Registry()
    session.execute(1)

def http():
    session = requests.Session()
    session.get("https://example.com")
"""),
        Example("""\
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()

def save(row):
    session = db.session()
    session.add(row)
    session.commit()
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def count_rows(row_id):
    # open it
    session = SessionLocal()  # error: 5
    result = session.execute(select(1).where(1 == row_id))
    if result:
        return result.scalar()
""", fixed="""\
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def count_rows(row_id):
    # open it
    with SessionLocal() as session:  # error: 5
        result = session.execute(select(1).where(1 == row_id))
        if result:
            return result.scalar()
"""),
        Example("""\
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import Session, create_engine

engine = create_engine("sqlite://")
AsyncSessionLocal = async_sessionmaker(create_async_engine("sqlite+aiosqlite://"))


def get_db_session():
    return Session(engine)


async def read():
    session = AsyncSessionLocal()  # error
    return await session.scalar(1)


def touch():
    session = get_db_session()  # error
    session.commit()


def nested(flag):
    if flag:
        s = AsyncSession(engine)  # error
        s.sync_session.commit()
""", fixed="""\
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import Session, create_engine

engine = create_engine("sqlite://")
AsyncSessionLocal = async_sessionmaker(create_async_engine("sqlite+aiosqlite://"))


def get_db_session():
    return Session(engine)


async def read():
    async with AsyncSessionLocal() as session:  # error
        return await session.scalar(1)


def touch():
    with get_db_session() as session:  # error
        session.commit()


def nested(flag):
    if flag:
        s = AsyncSession(engine)  # error
        s.sync_session.commit()
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            owner = function_scope(scope)
            if owner.kind != "function":
                continue
            for call in scope.calls:
                statement = _assignment(ctx, call)
                if statement is None:
                    continue
                opener = _session_opener(ctx, call, scope)
                if opener is None or _borrowed_bind(ctx, call, scope):
                    continue
                if fate(ctx, call, ("close",)) is not Fate.DROPPED:
                    continue
                yield self._report(ctx, call, statement, opener, owner)

    def _report(self, ctx: Context, call: cst.Call, statement: cst.Assign, opener: Value,
                owner: Scope) -> Report:
        target = statement.targets[0].target
        assert isinstance(target, cst.Name)
        is_async = _opens_async(opener)
        keyword = "async with" if is_async else "with"
        proof = f" ({ctx.evidence(opener)})" if opener.name else ""
        message = (f"`{target.value}` is a Session opened by `{ctx.code(call)}`{proof} in `{owner.name}` and "
                   f"never closed nor handed on: its connection stays checked out until garbage collection; "
                   f"use `{keyword} {ctx.code(call)} as {target.value}:` (or close it in `finally`)")
        return Report(statement, message, _wrap_fix(ctx, call, statement, target, owner, is_async))


def _assignment(ctx: Context, call: cst.Call) -> Optional[cst.Assign]:
    parent = ctx.model.parent(call)
    if isinstance(parent, cst.Await):
        parent = ctx.model.parent(parent)
    if (isinstance(parent, cst.Assign) and len(parent.targets) == 1
            and isinstance(parent.targets[0].target, cst.Name)):
        return parent
    return None


def _session_opener(ctx: Context, call: cst.Call, scope: Scope) -> Optional[Value]:
    """What opens a new Session when called: a session maker or class, or a function that
    returns a freshly opened Session (not one from a scoped_session registry)."""
    callee = ctx.infer(call.func, scope)
    if callee is None:
        return None
    if callee.is_session_maker:
        return callee
    if callee.kind is Kind.FUNCTION and _fresh_session(callee.returns):
        return callee
    return None


def _borrowed_bind(ctx: Context, call: cst.Call, scope: Scope) -> bool:
    """``Session(bind=connection)``: a Session on a connection it was lent (Alembic's
    ``op.get_bind()``, another Session's ``connection()``) checks nothing out of a pool, so
    leaving it unclosed leaks nothing. Only a bind known to be an Engine is reported."""
    for position, arg in enumerate(call.args):
        if (arg.keyword is None and position == 0 and not arg.star) or (
                arg.keyword is not None and arg.keyword.value == "bind"):
            bound = ctx.infer(arg.value, scope)
            return bound is None or bound.kind is not Kind.ENGINE
    return False


def _fresh_session(value: Optional[Value]) -> bool:
    return (value is not None and value.kind is Kind.SESSION and value.from_registry is None
            and not value.flask and (value.factory is not None or isinstance(value.node, cst.Call)))


def _opens_async(opener: Value) -> bool:
    if opener.kind is Kind.FUNCTION:
        return opener.returns is not None and opener.returns.is_async
    return opener.is_async


def _wrap_fix(ctx: Context, call: cst.Call, statement: cst.Assign, target: cst.Name, owner: Scope,
              is_async: bool) -> Optional[Fix]:
    """``with Factory() as x:`` around the rest of the body, when ``x = Factory()`` is a
    statement of the function body itself and the only binding of ``x``."""
    function = owner.node
    line = ctx.model.parent(statement)
    block = ctx.model.parent(line) if line is not None else None
    if (statement.value is not call or not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1
            or not isinstance(function, cst.FunctionDef) or block is not function.body
            or not isinstance(block, cst.IndentedBlock)):
        return None
    if len(owner.bindings.get(target.value, [])) != 1 or target.value in owner.globals | owner.nonlocals:
        return None
    if is_async and function.asynchronous is None:
        return None
    body = list(block.body)
    index = body.index(line)
    rest = body[index + 1:] or [cst.SimpleStatementLine([cst.Pass()])]
    wrapped = cst.With(
        items=[cst.WithItem(call, asname=cst.AsName(cst.Name(target.value)))],
        body=cst.IndentedBlock(rest, header=line.trailing_whitespace),
        asynchronous=cst.Asynchronous() if is_async else None,
        leading_lines=line.leading_lines,
    )
    new_block = block.with_changes(body=[*body[:index], wrapped])
    return Fix(f"Open the Session with `{'async with' if is_async else 'with'}`", Applicability.UNSAFE,
               [(block, new_block)])
