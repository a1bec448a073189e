from __future__ import annotations

import re
from typing import Iterator

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.rule import Applicability, Example, Fix, Report, Rule
from sqlalint.sqltext import bind_names, execution, module_string
from sqlalint.tree_edits import add_import

_DBAPI_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?s|\?")


class StringExecute(Rule):
    """
    ## What it does
    Checks for a plain string (or a name bound to one) passed to `execute()` of a
    Session, Connection or Engine.

    ## Why is this bad?
    SQLAlchemy 2.0 rejects it (`ObjectNotExecutableError`); 1.4 accepts it with a
    deprecation warning. Code that "works" today breaks at the upgrade, on the paths
    tests did not cover. `text()` also makes the statement's `:name` parameters explicit.
    A string built from values is reported by SLA401 instead (its fix adds `text()` too).
    `exec_driver_sql()` and DBAPI cursors take strings and are not reported.

    ## Example
    ```python
    with engine.connect() as conn:
        conn.execute("SELECT 1")
    ```

    ## Use instead
    ```python
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    ```

    ## Fix safety
    The fix wraps the string in `text(...)` and imports `text` when needed (or reuses
    `sa.text` after `import sqlalchemy as sa`). It is safe when the string has no `:name`
    that `text()` would read as a bind parameter (`::int` casts and `\\:` escapes are not);
    otherwise it is unsafe, since such a statement now needs those parameters.

    ## Options
    None.
    """

    code = "SLA402"
    name = "string-execute"
    summary = "a plain string passed to execute()"
    fixable = Applicability.SAFE

    valid = [
        Example("""\
import sqlite3
from sqlalchemy import create_engine, text

engine = create_engine("sqlite://")

def run(name):
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.exec_driver_sql("SELECT 1")
        conn.execute(f"SELECT * FROM users WHERE name = '{name}'")  # SLA401's
    cursor = sqlite3.connect(":memory:").cursor()
    cursor.execute("SELECT 1")
"""),
    ]
    invalid = [
        Example("""\
\"\"\"Maintenance.\"\"\"
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)
PURGE = "DELETE FROM sessions WHERE expired"

def ping():
    with engine.connect() as conn:
        return conn.execute("SELECT 1").scalar()  # error: 16

def purge():
    with SessionLocal() as session:
        session.execute(PURGE)  # error
        session.execute("SELECT now()::date, '10:30'")  # error
""", fixed="""\
\"\"\"Maintenance.\"\"\"
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)
PURGE = "DELETE FROM sessions WHERE expired"

def ping():
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1")).scalar()  # error: 16

def purge():
    with SessionLocal() as session:
        session.execute(text(PURGE))  # error
        session.execute(text("SELECT now()::date, '10:30'"))  # error
"""),
        # `:id` would become a bind parameter: unsafe, and the module alias is reused.
        Example("""\
import sqlalchemy as sa
from sqlalchemy.orm import Session

def touch(session: Session):
    session.execute("UPDATE users SET note = 'at :id'")  # error
""", fixed="""\
import sqlalchemy as sa
from sqlalchemy.orm import Session

def touch(session: Session):
    session.execute(sa.text("UPDATE users SET note = 'at :id'"))  # error
"""),
        # The driver's placeholders with parameters: text() would not fill them, no fix.
        Example("""\
from sqlalchemy import create_engine

engine = create_engine("sqlite://")

def find(user_id):
    with engine.begin() as conn:
        return conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).all()  # error
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            for call in scope.calls:
                found = execution(ctx, call, scope)
                if found is None or found.method != "execute":
                    continue
                sql = module_string(ctx, found.arg.value, scope)
                if sql is None:
                    continue
                binds = bind_names(sql)
                fix = None
                # ``conn.execute("... %s", (x,))`` passed the driver's own placeholders in 1.x:
                # text() would not fill them.
                driver_style = len(call.args) > 1 and _DBAPI_PLACEHOLDER.search(sql) is not None
                imported = add_import(ctx, "sqlalchemy", "text", sqla.TEXT_CONSTRUCTORS, scope)
                if imported is not None and not driver_style:
                    name, import_change = imported
                    wrapped = cst.Call(cst.parse_expression(name), args=[cst.Arg(found.arg.value)])
                    changes = [(found.arg.value, wrapped)]
                    if import_change is not None:
                        changes.append(import_change)
                    fix = Fix(f"Wrap the string in `{name}()`",
                              Applicability.UNSAFE if binds else Applicability.SAFE, changes)
                receiver = f" ({ctx.evidence(found.receiver)})" if found.receiver.name else ""
                if driver_style:
                    caution = "; its `%s`/`?` placeholders must become `:name` parameters"
                else:
                    caution = (f"; `text()` reads {', '.join(':' + b for b in dict.fromkeys(binds))} as bind "
                               "parameters (escape a literal colon as `\\:`)" if binds else "")
                yield Report(call, f"A plain string passed to `{ctx.code(call.func)}()`{receiver}: SQLAlchemy 2.0 "
                                   f"rejects it (ObjectNotExecutableError); wrap it in `text(...)`{caution}", fix)
