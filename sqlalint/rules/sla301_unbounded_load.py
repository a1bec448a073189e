from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint.context import Context
from sqlalint.model import Scope
from sqlalint.queries import Chain, ChainReader, all_call_receiver, contains, len_call_of, model_label, replacing
from sqlalint.rule import Applicability, Example, Fix, Report, Rule
from sqlalint.tree_edits import uses_of

YIELD_PER = 1000


class UnboundedLoad(Rule):
    """
    ## What it does
    Checks for `.all()` (or a `for` loop) over a whole table: `session.query(Model)`,
    Flask-SQLAlchemy's `Model.query`, or `select(Model)` run by `session.execute(...)`,
    `session.scalars(...)` or SQLModel's `session.exec(...)` (async too), when nothing in the
    statement's history in that function narrows it (`filter`, `filter_by`, `where`,
    `limit`, `slice`, `get`, `paginate`, `group_by`, `offset`, a join with an ON clause) and
    nothing streams it (`yield_per`, `execution_options(yield_per=...)`, `stream_results`,
    `partitions`). Selecting only some columns of the model (`query(Event.id)`) is still
    every row; aggregates (`func.count(...)`) are bounded.

    ## Why is this bad?
    `.all()` builds every row (and, for entities, every object in the identity map) in
    memory at once. It works on a development database and falls over when the table has
    grown: each request or worker thread holds a copy of the whole table, memory climbs
    and stays high, and the database sends the whole table over the wire each time.

    ## Example
    ```python
    with SessionLocal() as session:
        for event in session.query(Event).all():
            export(event)
    ```

    ## Use instead
    ```python
    with SessionLocal() as session:
        for event in session.query(Event).yield_per(1000):
            export(event)
    ```
    or filter and paginate (`.where(...)`, `.limit(...)`), or count in SQL.

    ## Fix safety
    When the loaded list is only iterated once (a `for` loop over `.all()`, or a local
    variable whose one use is such a loop), the fix streams it: `.all()` becomes
    `.yield_per(1000)` for a `Query`, and the statement gets
    `.execution_options(yield_per=1000)` in 2.0 style. It is unsafe: rows now arrive while
    the loop runs, so a loop body that commits, rolls back or closes the session breaks the
    iteration, and the connection stays busy until the loop ends. Async sessions, results
    used more than once and queries with `joinedload`/`subqueryload` options (which
    `yield_per` refuses for collections) get no fix.

    ## Options
    - `large-models`: model names or qualified names to report (`["*"]`, the default: all).
    - `small-models`: models never reported (lookup tables).
    - `table-sizes` and `large-table-rows`: with a JSON file written by
      `sqlalint table-sizes --url ...`, only models whose table has at least
      `large-table-rows` rows (default 10000) are reported.
    """

    code = "SLA301"
    name = "unbounded-load"
    summary = "a whole table loaded with .all() or iteration"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]

def bounded(kind, size, kinds):
    with SessionLocal() as session:
        a = session.query(Event).filter(Event.kind == kind).all()
        b = session.scalars(select(Event).where(Event.kind == kind)).all()
        c = session.query(func.count(Event.id)).all()
        stmt = select(Event)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        d = session.execute(stmt).scalars().all()
        for event in session.query(Event).yield_per(500):
            print(event)
        for event in session.scalars(select(Event).execution_options(yield_per=500)):
            print(event)
        e = session.query(Event).first()
        f = session.query(Event).join(kinds.subquery()).all()
        return a, b, c, d, e, f

def unknown(session, query):
    return session.query(Event).all(), query.all()
"""),
        Example("""\
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Country(Base):
    __tablename__ = "countries"
    id: Mapped[int] = mapped_column(primary_key=True)

class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)

def lookups():
    with SessionLocal() as session:
        return session.query(Country).all(), session.query(Event).all()
""", settings={"small_models": ("Country",), "table_sizes": (("events", 500),)}),
    ]
    invalid = [
        Example("""\
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)

def export():
    with SessionLocal() as session:
        for event in session.query(Event).all():  # error: 22
            print(event)
        rows = session.scalars(select(Event)).all()  # error: 16
        for row in rows:
            print(row)
        kept = session.execute(select(Event)).scalars().all()  # error
        lines = (
            session.execute(select(Event))  # error: 13
            .scalars()
            .all()
        )
        for line in lines:
            print(line)
        return kept, len(kept)
""", fixed="""\
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)

def export():
    with SessionLocal() as session:
        for event in session.query(Event).yield_per(1000):  # error: 22
            print(event)
        rows = session.scalars(select(Event).execution_options(yield_per=1000))  # error: 16
        for row in rows:
            print(row)
        kept = session.execute(select(Event)).scalars().all()  # error
        lines = (
            session.execute(select(Event).execution_options(yield_per=1000))  # error: 13
            .scalars()
        )
        for line in lines:
            print(line)
        return kept, len(kept)
"""),
        Example("""\
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()

class AuditLog(db.Model):
    id = db.Column(db.Integer, primary_key=True)

class UserRole(db.Model):
    id = db.Column(db.Integer, primary_key=True)

def export():
    logs = AuditLog.query.order_by(AuditLog.id).all()  # error: 12
    roles = db.session.query(UserRole.id).all()
    return logs, roles
""", settings={"table_sizes": (("audit_log", 50000), ("user_role", 12))}),
        Example("""\
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, Session, SQLModel

class Hero(SQLModel, table=True):
    id: int = Field(primary_key=True)

async def export(session: AsyncSession):
    return (await session.execute(select(Hero))).scalars().all()  # error: 12

async def export_again(session: AsyncSession):
    return (await session.scalars(select(Hero.id))).all()  # error: 12

def export_sync(session: Session):
    return [hero.id for hero in session.exec(select(Hero))]  # error: 33
""", fixed="""\
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, Session, SQLModel

class Hero(SQLModel, table=True):
    id: int = Field(primary_key=True)

async def export(session: AsyncSession):
    return (await session.execute(select(Hero))).scalars().all()  # error: 12

async def export_again(session: AsyncSession):
    return (await session.scalars(select(Hero.id))).all()  # error: 12

def export_sync(session: Session):
    return [hero.id for hero in session.exec(select(Hero).execution_options(yield_per=1000))]  # error: 33
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        reader = ChainReader(ctx)
        for scope in ctx.model.scopes():
            for call in scope.calls:
                receiver = all_call_receiver(call)
                if receiver is not None:
                    if len_call_of(ctx, call) is not None:
                        continue  # len(q.all()) is SLA302's
                    yield from self._report(ctx, reader, scope, call, receiver, call)
                elif _iterated(ctx, call):
                    yield from self._report(ctx, reader, scope, call, call, None)

    def _report(self, ctx: Context, reader: ChainReader, scope: Scope, node: cst.BaseExpression,
                query: cst.BaseExpression, all_call: Optional[cst.Call]) -> Iterator[Report]:
        chain = reader.read(query, scope)
        if chain is None or not chain.unbounded:
            return
        large = reader.large(chain, scope)
        if not large:
            return
        value = large[0][0]
        sizes = ctx.settings.table_size_map
        rows = f", {sizes[value.table]} rows per table-sizes" if sizes is not None and value.table else ""
        table = f" (table `{value.table}`{rows})" if value.table else ""
        where = ctx.where(value)
        proof = f"; `{value.name}` is a mapped model, {where}" if where else ""
        stream = ".yield_per(1000)" if chain.style == "query" else ".execution_options(yield_per=1000)"
        verb = "`.all()` loads" if all_call is not None else "iterating this query loads"
        message = (f"{verb} every row of {model_label(chain)}{table} into memory: nothing filters or "
                   f"limits it{proof}; filter or paginate it (`.where(...)`, `.limit(...)`), count in SQL, "
                   f"or stream it with `{stream}`")
        yield Report(node, message, _fix(ctx, chain, node, query, all_call))


def _iterated(ctx: Context, call: cst.Call) -> bool:
    """Is ``call`` (the outermost call of a chain) the iterable of a ``for``?"""
    node: cst.CSTNode = call
    parent = ctx.model.parent(node)
    if isinstance(parent, cst.Await):
        node, parent = parent, ctx.model.parent(parent)
    return isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is node and parent.asynchronous is None


def _iterated_once(ctx: Context, all_call: cst.Call) -> bool:
    """Is the list ``.all()`` returns only iterated once (a loop, or a local used once in
    a loop at the same loop depth)?"""
    parent = ctx.model.parent(all_call)
    if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is all_call:
        return True
    if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1
            and isinstance(parent.targets[0].target, cst.Name)):
        return False
    scope = ctx.model.scope(all_call)
    binding = ctx.model.single_binding(parent.targets[0].target.value, scope)
    if binding is None or binding.node is not parent:
        return False
    uses = uses_of(ctx, binding)
    if len(uses) != 1 or ctx.model.scope(uses[0]) is not scope:
        return False
    loop = ctx.model.parent(uses[0])
    if not (isinstance(loop, cst.For) and loop.iter is uses[0]):
        return False
    return _loops_around(ctx, loop) == _loops_around(ctx, parent)


def _loops_around(ctx: Context, node: cst.CSTNode) -> list[cst.CSTNode]:
    return [a for a in ctx.model.ancestors(node) if isinstance(a, (cst.For, cst.While))]


def _fix(ctx: Context, chain: Chain, node: cst.BaseExpression, query: cst.BaseExpression,
         all_call: Optional[cst.Call]) -> Optional[Fix]:
    if chain.is_async or (all_call is not None and not _iterated_once(ctx, all_call)):
        return None
    if "joinedload" in ctx.code(query) or "subqueryload" in ctx.code(query):
        return None  # yield_per refuses joined/subquery eager loading of collections
    if chain.style == "query":
        if all_call is not None:
            new = all_call.with_changes(func=all_call.func.with_changes(attr=cst.Name("yield_per")),
                                        args=[cst.Arg(cst.Integer(str(YIELD_PER)))])
        else:
            new = cst.Call(cst.Attribute(query, cst.Name("yield_per")), [cst.Arg(cst.Integer(str(YIELD_PER)))])
        return Fix(f"Stream the rows with `.yield_per({YIELD_PER})`", Applicability.UNSAFE,
                   [(node, replacing(ctx, node, new))])
    statement = chain.statement
    if statement is None or not contains(ctx, query, statement):
        return None  # the statement is run elsewhere (a result kept in a variable)
    streamed = cst.Call(cst.Attribute(statement, cst.Name("execution_options")),
                        [cst.Arg(cst.Integer(str(YIELD_PER)), keyword=cst.Name("yield_per"),
                                 equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
    new = query.deep_replace(statement, streamed)
    return Fix(f"Stream the rows with `.execution_options(yield_per={YIELD_PER})`", Applicability.UNSAFE,
               [(node, replacing(ctx, node, new))])
