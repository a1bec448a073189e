from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.infer import Kind
from sqlalint.model import Scope
from sqlalint.rule import Applicability, Example, Fix, Report, Rule
from sqlalint.tree_edits import remove_arg


class BoundMetadata(Rule):
    """
    ## What it does
    Checks for `declarative_base(engine)`, `declarative_base(bind=...)`, `MetaData(engine)`
    and `MetaData(bind=...)`: metadata bound to an Engine or Connection.

    ## Why is this bad?
    "Bound metadata" was deprecated in SQLAlchemy 1.4 and removed in 2.0, where these calls
    raise `TypeError`. It also hides which connection a statement runs on: implicit
    execution (`table.select().execute()`, `metadata.create_all()` without an engine)
    checks out connections behind the application's back, outside any Session or
    transaction the code can see.

    ## Example
    ```python
    Base = declarative_base(bind=engine)
    metadata = MetaData(engine)
    ```

    ## Use instead
    ```python
    Base = declarative_base()
    metadata = MetaData()
    metadata.create_all(engine)  # pass the engine where it is used
    ```

    ## Fix safety
    The fix drops the bind argument. It is unsafe: code that relied on the binding
    (`metadata.create_all()`, `Session()` without `bind`, implicit execution) must now be
    given the engine explicitly.

    In SQLAlchemy 2.0 the first positional argument of `MetaData` is `schema`, so
    `MetaData(x)` is reported only when `x` is known to be an Engine or Connection.

    ## Options
    None.
    """

    code = "SLA501"
    name = "bound-metadata"
    summary = "MetaData or declarative_base bound to an engine"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
from sqlalchemy import MetaData, create_engine
from sqlalchemy.orm import declarative_base

engine = create_engine("sqlite://")
metadata = MetaData("analytics")
named = MetaData(schema="analytics", naming_convention={})
Base = declarative_base(metadata=metadata)

def MetaData_(bind):
    return bind
"""),
        Example("""\
from myproject import MetaData, declarative_base

Base = declarative_base(bind=1)
metadata = MetaData(bind=2)
"""),
    ]
    invalid = [
        Example("""\
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

engine = sa.create_engine("sqlite://")
Base = declarative_base(engine)  # error: 8
metadata = sa.MetaData(bind=engine)  # error: 12
other = sa.MetaData(engine, schema="x")  # error
""", fixed="""\
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

engine = sa.create_engine("sqlite://")
Base = declarative_base()  # error: 8
metadata = sa.MetaData()  # error: 12
other = sa.MetaData(schema="x")  # error
"""),
        Example("""\
from sqlalchemy.ext.declarative import declarative_base

def make_base(url):
    return declarative_base(  # error
        name="Base",
        bind=url,
    )
""", fixed="""\
from sqlalchemy.ext.declarative import declarative_base

def make_base(url):
    return declarative_base(  # error
        name="Base",
    )
"""),
        Example("""\
from sqlalchemy import MetaData

metadata = MetaData(  # error
    bind=get_engine(),  # the shared engine
)
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            for call in scope.calls:
                qualified = ctx.qualified_name(call.func, scope)
                if qualified in sqla.DECLARATIVE_BASE_FUNCTIONS:
                    arg = _bind_arg(ctx, call, scope, positional_is_bind=True)
                elif qualified in sqla.METADATA_CLASSES:
                    arg = _bind_arg(ctx, call, scope, positional_is_bind=False)
                else:
                    continue
                if arg is None:
                    continue
                callee = ctx.code(call.func)
                change = remove_arg(call, arg)
                fix = Fix("Drop the bind argument", Applicability.UNSAFE, [change]) if change else None
                yield Report(call, f"`{callee}(...)` binds the metadata to `{ctx.code(arg.value)}`: bound "
                                   "metadata was removed in SQLAlchemy 2.0 (TypeError) and runs statements "
                                   "on connections no Session controls; drop the bind and pass the engine "
                                   "where it is used (`metadata.create_all(engine)`, `Session(engine)`)", fix)


def _bind_arg(ctx: Context, call: cst.Call, scope: Scope, positional_is_bind: bool) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "bind":
            return None if _is_none(arg.value) else arg
    first = call.args[0] if call.args else None
    if first is None or first.keyword is not None or first.star or _is_none(first.value):
        return None
    if positional_is_bind:  # declarative_base(bind=None, metadata=None, ...) in 1.x
        return first
    value = ctx.infer(first.value, scope)  # MetaData(schema=None, ...) in 2.0
    return first if value is not None and value.kind in (Kind.ENGINE, Kind.CONNECTION) else None


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
