from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint.concurrency import registry_for, use_registry
from sqlalint.context import Context
from sqlalint.infer import Kind, Value
from sqlalint.model import Binding
from sqlalint.rule import Applicability, Edit, Example, Fix, Report, Rule
from sqlalint.tree_edits import uses_of


class GlobalSession(Rule):
    """
    ## What it does
    Checks for a Session instance bound at module level or in a class body:
    `session = SessionLocal()`, `Session(engine)`, `sessionmaker(...)()`, or a
    `scoped_session` registry called at import time. Factories (`sessionmaker`,
    `async_sessionmaker`), registries (`scoped_session`) and Flask-SQLAlchemy's `db.session`
    are fine, and so is a script's Session opened under `if __name__ == "__main__":`.

    ## Why is this bad?
    A Session made at import time is shared by every caller and every thread of the process
    for its whole life. It is not thread-safe: concurrent requests interleave statements on
    its one connection, see each other's uncommitted changes, and one failed flush leaves it
    unusable for everybody ("This Session's transaction has been rolled back"). Its
    identity map grows without bound. Calling a `scoped_session` registry at import time
    gives the importing thread's Session to everyone else, which defeats the registry.

    ## Example
    ```python
    Session = scoped_session(sessionmaker(bind=engine))
    session = Session()

    def list_users():
        return session.query(User).all()
    ```

    ## Use instead
    ```python
    Session = scoped_session(sessionmaker(bind=engine))

    def list_users():
        return Session.query(User).all()  # the registry proxies to this thread's Session
    ```
    or open a Session per unit of work: `with SessionLocal() as session:`.

    ## Fix safety
    When the Session comes from a `scoped_session` registry defined in the same module and
    every use of it is inside a function, the fix makes those functions use the registry
    and removes the global Session. It is unsafe: code that relied on one Session shared
    across calls (objects added in one call and committed in another) now sees a Session
    per thread, and another module that imports the global name must be changed too. No
    fix is offered otherwise.

    ## Options
    - `session-factories`: callables the analysis cannot see into that return a Session.
    """

    code = "SLA202"
    name = "global-session"
    summary = "a Session instance bound at module level or in a class body"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
import requests
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)
Registry = scoped_session(SessionLocal)
db = SQLAlchemy()
scoped = db.session
http = requests.Session()
current: Session = None

def handler():
    session = SessionLocal()
    session.close()

class Repository:
    factory = SessionLocal

    def __init__(self):
        self.session = SessionLocal()

if __name__ == "__main__":
    session = SessionLocal()
    session.close()
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import Session as SQLModelSession

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)

db_session = SessionLocal()  # error: 1
plain = Session(engine)  # error: 1
model = SQLModelSession(engine)  # error: 1
inline = sessionmaker(bind=engine)()  # error: 1

class Repository:
    session = SessionLocal()  # error: 5
"""),
        Example("""\
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
session = Session()  # error: 1


def list_users():
    return session.query(int).all()


def add(user):
    session.add(user)
    session.commit()
""", fixed="""\
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
# error: 1


def list_users():
    return Session.query(int).all()


def add(user):
    Session.add(user)
    Session.commit()
"""),
        Example("""\
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
# the main thread's session
session = Session()  # error: 1
session.info["main"] = True
""", fixed=None),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for scope in ctx.model.scopes():
            if scope.kind not in ("module", "class"):
                continue
            for bindings in scope.bindings.values():
                for binding in bindings:
                    if binding.kind not in ("assign", "annassign") or not isinstance(binding.value, cst.Call):
                        continue
                    session = ctx.infer(binding.value, scope)
                    if session is None or session.kind is not Kind.SESSION or session.flask:
                        continue
                    if _in_main_block(ctx, binding.node):
                        continue  # a script's own unit of work, not a Session importers share
                    yield Report(binding.node, self._message(ctx, binding, session),
                                 self._fix(ctx, binding, session))

    @staticmethod
    def _message(ctx: Context, binding: Binding, session: Value) -> str:
        where = ("at module level" if binding.scope.kind == "module"
                 else f"in the body of class `{binding.scope.name}`")
        source = session.from_registry or session.factory
        proof = ""
        if source is not None and source.name:
            defined = ctx.where(source)
            proof = f" from `{source.name}` ({source.describe()}" + (f", {defined})" if defined else ")")
        registry = registry_for(ctx, session)
        if registry is not None:
            advice = f"use the registry `{registry[0]}` itself in functions, it proxies to each thread's Session"
        else:
            opener = "async with" if session.is_async else "with"
            advice = f"open a Session per unit of work instead (`{opener} {ctx.code(binding.value)} as session:`)"
        return (f"`{binding.name}` is a Session opened {where}{proof}: every caller and every thread "
                f"shares it; {advice}")

    @staticmethod
    def _fix(ctx: Context, binding: Binding, session: Value) -> Optional[Fix]:
        registry = registry_for(ctx, session)
        if registry is None or binding.scope.kind != "module" or not isinstance(binding.node, cst.Assign):
            return None
        if len(binding.node.targets) != 1 or ctx.model.single_binding(binding.name, ctx.model.root) is not binding:
            return None
        if any(binding.name in s.globals for s in ctx.model.scopes()) or _exported(ctx, binding.name):
            return None
        uses = uses_of(ctx, binding)
        if any(ctx.model.scope(name).kind in ("module", "class") for name in uses):
            return None  # used at import time: the registry would be called there too
        changes = use_registry(ctx, uses, registry)
        removal = _remove_statement(ctx, binding.node)
        if changes is None or removal is None:
            return None
        return Fix(f"Use the registry `{registry[0]}` and drop the global Session", Applicability.UNSAFE,
                   [*removal[0], *changes], removal[1])


def _exported(ctx: Context, name: str) -> bool:
    """Is ``name`` listed in the module's ``__all__`` (other modules may import it)?"""
    for binding in ctx.model.root.bindings.get("__all__", []):
        value = binding.value
        if isinstance(value, (cst.List, cst.Tuple)) and any(
                isinstance(e.value, cst.SimpleString) and e.value.evaluated_value == name for e in value.elements):
            return True
    return False


def _in_main_block(ctx: Context, node: cst.CSTNode) -> bool:
    """Is ``node`` under ``if __name__ == "__main__":``?"""
    for ancestor in ctx.model.ancestors(node):
        if isinstance(ancestor, cst.If) and isinstance(ancestor.test, cst.Comparison):
            test = ancestor.test
            sides = [test.left, *(c.comparator for c in test.comparisons)]
            if any(isinstance(s, cst.Name) and s.value == "__name__" for s in sides) and any(
                    isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__" for s in sides):
                return True
    return False


def _remove_statement(ctx: Context, small: cst.BaseSmallStatement) -> Optional[tuple[list, list]]:
    """(changes, edits) removing a module-level statement; a comment at the end of its line
    stays, on a line of its own."""
    line = ctx.model.parent(small)
    if not isinstance(line, cst.SimpleStatementLine) or not isinstance(ctx.model.parent(line), cst.Module):
        return None
    if len(line.body) > 1:
        return [(small, cst.RemovalSentinel.REMOVE)], []
    span = ctx.range(line)
    start = ctx.lines.offset(span.start.line, span.start.column)
    starts = ctx.lines.starts
    end = starts[span.end.line] if span.end.line < len(starts) else len(ctx.source)
    removed = ctx.source[start:end]
    newline = removed[len(removed.rstrip("\r\n")):]
    comment = line.trailing_whitespace.comment
    return [], [Edit(start, end, f"{comment.value}{newline}" if comment is not None else "")]
