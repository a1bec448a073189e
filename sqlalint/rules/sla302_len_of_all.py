from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.model import Scope
from sqlalint.queries import Chain, ChainReader, all_call_receiver, contains, len_call_of, replacing
from sqlalint.rule import Applicability, Example, Fix, Report, Rule


class LenOfAll(Rule):
    """
    ## What it does
    Checks for `len(<query>.all())`: `len(session.query(M)...all())`,
    `len(Model.query...all())`, `len(session.scalars(select(M)...).all())` and the
    `execute(...)` / SQLModel `exec(...)` spellings, sync or async.

    ## Why is this bad?
    Every row is sent by the database, turned into objects and kept in memory, only to be
    counted and thrown away. The database can count without sending any row.

    ## Example
    ```python
    open_orders = len(session.query(Order).filter(Order.status == "open").all())
    ```

    ## Use instead
    ```python
    open_orders = session.query(Order).filter(Order.status == "open").count()
    # 2.0 style
    open_orders = session.scalar(select(func.count()).select_from(Order).where(Order.status == "open"))
    ```

    ## Fix safety
    For a `Query`, `len(q.all())` becomes `q.count()`. For a 2.0 statement run by
    `session.scalars(stmt)` or `session.execute(stmt).scalars()`, it becomes
    `session.scalar(select(func.count()).select_from(Model))` when the statement is exactly
    `select(Model)`, else `select(func.count()).select_from(stmt.subquery())`; only when
    `select` and `func` are already imported from SQLAlchemy in that file. The fix is
    unsafe: `len()` counts the objects after the ORM de-duplicates them, while SQL counts
    rows, so a query with joins may count differently.

    ## Options
    None.
    """

    code = "SLA302"
    name = "len-of-all"
    summary = "rows loaded only to be counted"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)

def counted(items):
    with SessionLocal() as session:
        rows = session.query(Order).all()
        print(len(rows), len(items.all()))
        return session.scalar(select(func.count()).select_from(Order)), rows
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str]

def counts(s):
    with SessionLocal() as session:
        a = len(session.query(Order).filter(Order.status == s).all())  # error: 13
        b = len(session.scalars(select(Order)).all())  # error: 13
        c = len(session.execute(select(Order).where(Order.status == s)).scalars().all())  # error
        return a, b, c
""", fixed="""\
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SessionLocal = sessionmaker()

class Base(DeclarativeBase):
    pass

class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str]

def counts(s):
    with SessionLocal() as session:
        a = session.query(Order).filter(Order.status == s).count()  # error: 13
        b = session.scalar(select(func.count()).select_from(Order))  # error: 13
        c = session.scalar(select(func.count()).select_from(select(Order).where(Order.status == s).subquery()))  # error
        return a, b, c
"""),
        Example("""\
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

db = SQLAlchemy()

class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)

def total():
    return len(Post.query.all())  # error: 12

def total_lines(status):
    return len(  # error: 12
        Post.query
        .filter_by(status=status)
        .all()
    )

async def total_async(session: AsyncSession):
    return len((await session.scalars(select(Post))).all())  # error: 12
""", fixed="""\
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

db = SQLAlchemy()

class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)

def total():
    return Post.query.count()  # error: 12

def total_lines(status):
    return (  # error: 12
        Post.query
        .filter_by(status=status)
        .count()
    )

async def total_async(session: AsyncSession):
    return len((await session.scalars(select(Post))).all())  # error: 12
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        reader = ChainReader(ctx)
        for scope in ctx.model.scopes():
            for call in scope.calls:
                receiver = all_call_receiver(call)
                if receiver is None:
                    continue
                len_call = len_call_of(ctx, call)
                if len_call is None:
                    continue
                chain = reader.read(receiver, scope)
                if chain is None or not (chain.models or chain.aggregate):
                    continue
                if chain.style == "query":
                    better = "`.count()`"
                else:
                    better = "`session.scalar(select(func.count()).select_from(...))`"
                message = (f"`len(...all())` loads every row only to count them; count in the database "
                           f"with {better}")
                yield Report(len_call, message, _fix(ctx, scope, chain, len_call, receiver))


def _fix(ctx: Context, scope: Scope, chain: Chain, len_call: cst.Call,
         receiver: cst.BaseExpression) -> Optional[Fix]:
    if chain.style == "query":
        if chain.is_async:
            return None
        arg = len_call.args[0]
        all_call = arg.value
        new = all_call.with_changes(func=all_call.func.with_changes(attr=cst.Name("count")))
        if "\n" in ctx.code(new) and not new.lpar:  # keep the lines len( ... ) allowed
            new = new.with_changes(lpar=[cst.LeftParen(whitespace_after=len_call.whitespace_before_args)],
                                   rpar=[cst.RightParen(whitespace_before=arg.whitespace_after_arg)])
        return Fix("Count in the database with `.count()`", Applicability.UNSAFE,
                   [(len_call, replacing(ctx, len_call, new))])
    call, statement = chain.session_call, chain.statement
    if call is None or statement is None or chain.is_async or not contains(ctx, receiver, call):
        return None
    if call.func.attr.value not in ("scalars", "execute") or _between(ctx, call, receiver) - {"scalars"}:
        return None  # unique()/mappings()... between the statement and .all(): the count may differ
    select_name = _imported_as(ctx, scope, sqla.SELECT_CONSTRUCTORS, "select")
    func_name = _imported_as(ctx, scope, sqla.FUNC, "func")
    if select_name is None or func_name is None:
        return None
    if chain.plain_select and len(chain.models) == 1 and isinstance(chain.models[0][1], (cst.Name, cst.Attribute)) \
            and isinstance(statement, cst.Call) and isinstance(statement.args[0].value, (cst.Name, cst.Attribute)):
        source: cst.BaseExpression = statement.args[0].value
    else:
        source = cst.Call(cst.Attribute(statement, cst.Name("subquery")))
    count = cst.parse_expression(f"{select_name}({func_name}.count()).select_from(x)")
    count = count.with_changes(args=[cst.Arg(source)])
    new = cst.Call(cst.Attribute(call.func.value, cst.Name("scalar")), [cst.Arg(count)])
    return Fix("Count in the database with `select(func.count())`", Applicability.UNSAFE,
               [(len_call, replacing(ctx, len_call, new))])


def _between(ctx: Context, call: cst.Call, receiver: cst.BaseExpression) -> set[str]:
    """Method names applied to the result of ``call`` up to ``receiver``."""
    names = set()
    node: cst.CSTNode = receiver
    while node is not call:
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
            return {"?"}
        names.add(node.func.attr.value)
        node = node.func.value
    return names


def _imported_as(ctx: Context, scope: Scope, names: frozenset, spelling: str) -> Optional[str]:
    """``spelling`` when it resolves to one of ``names`` in ``scope``."""
    return spelling if ctx.qualified_name(cst.Name(spelling), scope) in names else None
