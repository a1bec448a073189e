from __future__ import annotations

from typing import Iterator

import libcst as cst

from sqlalint.context import Context
from sqlalint.infer import Kind
from sqlalint.model import Binding
from sqlalint.rule import Example, Report, Rule
from sqlalint.tree_edits import uses_of


class ScopedSessionNotRemoved(Rule):
    """
    ## What it does
    Checks for a `scoped_session` registry, bound at module level, that functions use while
    nothing ever calls `.remove()` on it: no Flask `teardown_appcontext`, no `finally:`
    block, no middleware. Flask-SQLAlchemy's `db.session` is removed by Flask and never
    reported.

    ## Why is this bad?
    A `scoped_session` keeps one Session per thread until `.remove()` is called. Without
    it, a worker thread's Session lives as long as the thread: its transaction stays open,
    its connection is never returned to the pool (the pool runs dry under load:
    "QueuePool limit of size 5 overflow 10 reached"), and the next task on that thread
    inherits the previous task's state and stale objects.

    ## Example
    ```python
    Session = scoped_session(sessionmaker(bind=engine))

    def handle(item_id):
        Session.execute(select(Item).where(Item.id == item_id))
        Session.commit()
    ```

    ## Use instead
    ```python
    def handle(item_id):
        try:
            Session.execute(select(Item).where(Item.id == item_id))
            Session.commit()
        finally:
            Session.remove()
    ```
    or in a web application, once per request:
    ```python
    @app.teardown_appcontext
    def shutdown_session(exception=None):
        Session.remove()
    ```

    ## Fix safety
    No fix: where the unit of work ends (a request, a task, a thread) is a decision for a
    person. The message says what to add.

    ## Options
    None. With a project index, a `.remove()` in any module of the project counts.
    """

    code = "SLA205"
    name = "scoped-session-not-removed"
    summary = "a scoped_session registry whose sessions are never removed"

    valid = [
        Example("""\
from flask import Flask
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
Worker = scoped_session(sessionmaker())
Unused = scoped_session(sessionmaker())
app = Flask(__name__)
app.teardown_appcontext(lambda exc: Session.remove())

def handle(item_id):
    try:
        Session.get(dict, item_id)
        Worker.get(dict, item_id)
    finally:
        registry = Worker
        registry.remove()
"""),
        Example("""\
import atexit
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import scoped_session, sessionmaker

db = SQLAlchemy()
Session = scoped_session(sessionmaker())
atexit.register(Session.remove)

def handle():
    Session.commit()
    db.session.commit()
"""),
    ]
    invalid = [
        Example("""\
from concurrent.futures import ThreadPoolExecutor
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())  # error: 11

def handle(item_id):
    Session.get(dict, item_id)
    Session.commit()

def run(ids):
    with ThreadPoolExecutor() as pool:
        list(pool.map(handle, ids))
"""),
        Example("""\
import sqlalchemy.orm as orm
from sqlalchemy.ext.asyncio import async_scoped_session, async_sessionmaker
from asyncio import current_task

class Store:
    registry = orm.scoped_session(orm.sessionmaker())

db = async_scoped_session(async_sessionmaker(), scopefunc=current_task)  # error: 6

async def handle():
    await db.commit()
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for bindings in ctx.model.root.bindings.values():
            if len(bindings) != 1:
                continue
            binding = bindings[0]
            call = binding.value
            if binding.kind not in ("assign", "annassign") or not isinstance(call, cst.Call):
                continue
            registry = ctx.infer(call, ctx.model.root)
            if registry is None or registry.kind is not Kind.SCOPED_REGISTRY or registry.flask:
                continue
            uses = uses_of(ctx, binding)
            if not any(ctx.model.scope(name).kind in ("function", "lambda") for name in uses):
                continue  # not used by code that runs later: nothing to remove here
            if self._removed(ctx, binding, uses):
                continue
            yield Report(call, (
                f"`{binding.name}` is a {registry.describe().removeprefix('a ')} used in functions, but "
                f"nothing calls `{binding.name}.remove()`: each thread's Session (and its connection) "
                f"lives as long as the thread; call `{binding.name}.remove()` when a unit of work ends "
                f"(a `finally:` block, Flask `teardown_appcontext`, or middleware)"))

    @staticmethod
    def _removed(ctx: Context, binding: Binding, uses: list[cst.Name]) -> bool:
        """``.remove`` on the registry, called or handed over as a callback, in this module or
        (through the project index) any other."""
        for name in uses:
            parent = ctx.model.parent(name)
            if isinstance(parent, cst.Attribute) and parent.attr.value == "remove":
                return True
        for scope in ctx.model.scopes():  # through a local alias: ``registry = Session``
            for call in scope.calls:
                func = call.func
                if isinstance(func, cst.Attribute) and func.attr.value == "remove":
                    value = ctx.infer(func.value, scope)
                    if value is not None and value.kind is Kind.SCOPED_REGISTRY and value.node is binding.node:
                        return True
        index = ctx.inference.index
        if index is not None and ctx.model.module_name:
            return index.registry_removed(f"{ctx.model.module_name}.{binding.name}")
        return False
