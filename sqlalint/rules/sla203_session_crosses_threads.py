from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint.concurrency import THREAD, Spawn, Target, registry_for, spawns, use_registry
from sqlalint.context import Context
from sqlalint.infer import Kind, Value
from sqlalint.model import Binding, Scope
from sqlalint.rule import Applicability, Example, Fix, Report, Rule


class SessionCrossesThreads(Rule):
    """
    ## What it does
    Checks for a Session used by code that runs in another thread: a function handed to
    `threading.Thread`/`Timer`, `Executor.submit`/`map`, a `multiprocessing.dummy` or
    `ThreadPool` pool, `loop.run_in_executor`, `asyncio.to_thread` or
    `Future.add_done_callback` that uses a global or captured Session, or a Session passed
    as an argument to such a call.

    ## Why is this bad?
    A Session is not thread-safe. Two threads sharing one interleave statements on one
    connection ("connection is busy with results for another command"), see each other's
    half-finished transactions, and corrupt the identity map. Each thread needs its own
    Session; a `scoped_session` registry gives each thread one, which is why using the
    registry is the fix and not a finding.

    ## Example
    ```python
    Session = scoped_session(sessionmaker(bind=engine))
    session = Session()

    def work():
        session.query(User).all()

    threading.Thread(target=work).start()
    ```

    ## Use instead
    ```python
    def work():
        Session.query(User).all()  # the registry proxies to this thread's Session
        Session.remove()
    ```
    or open a Session inside the thread:
    ```python
    def work():
        with SessionLocal() as session:
            session.query(User).all()
    ```

    ## Fix safety
    When the Session was taken from a `scoped_session` registry, the fix makes the
    thread-run function use the registry itself; when it was opened from a known factory
    (`session = SessionLocal()`), the fix wraps the body of the thread-run function in
    `with SessionLocal() as session:`. Both are unsafe: work that relied on the shared
    Session (objects added elsewhere, a commit made by another caller) now happens in a
    Session of its own. A Session passed as an argument has no fix: open one inside the
    thread-run function instead.

    ## Options
    - `session-factories`: callables the analysis cannot see into that return a Session.
    """

    code = "SLA203"
    name = "session-crosses-threads"
    summary = "a Session used by code that runs in another thread"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
import threading
from concurrent.futures import ThreadPoolExecutor
from sqlalchemy.orm import scoped_session, sessionmaker

SessionLocal = sessionmaker()
Registry = scoped_session(SessionLocal)

def own(item_id):
    with SessionLocal() as session:
        session.get(dict, item_id)

def registry(item_id):
    try:
        Registry.get(dict, item_id)
    finally:
        Registry.remove()

def run(ids):
    threading.Thread(target=registry, args=(1,)).start()
    with ThreadPoolExecutor() as pool:
        pool.map(own, ids)
        pool.submit(registry, Registry)
"""),
        Example("""\
import threading
from multiprocessing.dummy import Pool
import requests
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()
http = requests.Session()

def fetch(url):
    return http.get(url)

def main(session, work):
    threading.Thread(target=fetch, args=("x",)).start()
    threading.Thread(target=work, args=(session,)).start()
    Pool(2).apply_async(fetch, ("y",))
"""),
    ]
    invalid = [
        Example("""\
import threading
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
session = Session()

def test():
    \"\"\"Runs in a thread.\"\"\"
    result = session.query(int).all()  # error: 14
    session.close()

threading.Thread(target=test).start()
""", fixed="""\
import threading
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker())
session = Session()

def test():
    \"\"\"Runs in a thread.\"\"\"
    result = Session.query(int).all()  # error: 14
    Session.close()

threading.Thread(target=test).start()
"""),
        Example("""\
import functools
from concurrent.futures import ThreadPoolExecutor
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()
shared = SessionLocal()
executor = ThreadPoolExecutor(max_workers=4)

def process(session, item_id):
    session.get(dict, item_id)

def job(item_id):
    # look the item up
    shared.get(dict, item_id)  # error: 5
    shared.commit()

def fan_out(item_ids):
    with SessionLocal() as session:
        for item_id in item_ids:
            executor.submit(process, session, item_id)  # error: 13
            executor.submit(functools.partial(process, session), item_id)  # error: 13
    executor.map(job, item_ids)
""", fixed="""\
import functools
from concurrent.futures import ThreadPoolExecutor
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()
shared = SessionLocal()
executor = ThreadPoolExecutor(max_workers=4)

def process(session, item_id):
    session.get(dict, item_id)

def job(item_id):
    with SessionLocal() as shared:
        # look the item up
        shared.get(dict, item_id)  # error: 5
        shared.commit()

def fan_out(item_ids):
    with SessionLocal() as session:
        for item_id in item_ids:
            executor.submit(process, session, item_id)  # error: 13
            executor.submit(functools.partial(process, session), item_id)  # error: 13
    executor.map(job, item_ids)
"""),
        Example("""\
import asyncio
import threading
from sqlalchemy.orm import Session

def run(engine):
    session = Session(engine)
    timer = threading.Timer(5.0, lambda: session.commit())  # error: 42

async def handler(engine):
    with Session(engine) as session:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: session.execute("SELECT 1"))  # error: 50
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        reported: set[int] = set()
        for spawn in spawns(ctx):
            if spawn.kind != THREAD:
                continue
            report = self._passed(ctx, spawn)
            if report is not None:
                yield report
            for target in spawn.targets:
                if id(target) in reported:
                    continue
                reported.add(id(target))
                yield from self._captured(ctx, spawn, target)

    # -- a Session handed over as an argument ----------------------------------------------
    def _passed(self, ctx: Context, spawn: Spawn) -> Optional[Report]:
        named = [t for t in spawn.targets if isinstance(t, cst.FunctionDef)]
        runner = f"`{named[0].name.value}`" if named else "the function that runs in the thread"
        for expr in spawn.passed:
            session = _shared_session(ctx, expr, spawn.scope)
            if session is not None:
                binding = ctx.model.single_binding(expr.value, spawn.scope) if isinstance(expr, cst.Name) else None
                return Report(spawn.call, (
                    f"`{ctx.code(expr)}`{_proof(ctx, session, binding)} is handed to another thread by "
                    f"`{_head(ctx, spawn.call)}`: a Session is not thread-safe; open a Session "
                    f"inside {runner} instead"))
        return None

    # -- a global or captured Session used in the thread-run function ----------------------
    def _captured(self, ctx: Context, spawn: Spawn, target: Target) -> Iterator[Report]:
        own = ctx.model.scope_of_node[target]
        inside = {id(s) for s in own.walk()}
        uses: dict[int, tuple[Binding, Value, list[cst.Name]]] = {}
        for scope in own.walk():
            for name in scope.names:
                binding = ctx.model.single_binding(name.value, scope)
                if binding is None or id(binding.scope) in inside or binding.kind not in (
                        "assign", "annassign", "with", "param"):
                    continue
                entry = uses.get(id(binding))
                if entry is None:
                    session = _shared_session(ctx, name, scope)
                    if session is None:
                        continue
                    entry = uses[id(binding)] = (binding, session, [])
                entry[2].append(name)
        for binding, session, names in uses.values():
            names.sort(key=lambda n: (ctx.range(n).start.line, ctx.range(n).start.column))
            first = names[0]
            start = ctx.line(spawn.call)
            yield Report(first, self._message(ctx, binding, session, spawn, start, target),
                         self._fix(ctx, binding, session, target, names))

    def _message(self, ctx: Context, binding: Binding, session: Value, spawn: Spawn, start: int,
                 target: Target) -> str:
        where = "a global" if binding.scope.kind in ("module", "class") else "a captured"
        runner = f"`{target.name.value}`" if isinstance(target, cst.FunctionDef) else "a lambda"
        registry = registry_for(ctx, session)
        factory = _factory_call(ctx, session)
        if registry is not None:
            advice = f"use the registry `{registry[0]}` itself inside {runner}"
        elif isinstance(target, cst.Lambda):
            advice = "hand the thread a function that opens its own Session instead"
        elif factory is not None:
            advice = f"open a Session inside {runner} (`with {factory} as {binding.name}:`)"
        else:
            advice = f"open a new Session inside {runner} from a session factory"
        return (f"`{binding.name}` is {where} Session{_proof(ctx, session, binding)} used by {runner}, which "
                f"runs in another thread (`{_head(ctx, spawn.call)}`, {ctx.path}:{start}): a Session is not "
                f"thread-safe; {advice}")

    def _fix(self, ctx: Context, binding: Binding, session: Value, target: Target,
             names: list[cst.Name]) -> Optional[Fix]:
        scopes = ctx.model.scope_of_node[target].walk()
        if any(binding.name in s.globals or binding.name in s.nonlocals for s in scopes):
            return None
        registry = registry_for(ctx, session)
        if registry is not None:
            changes = use_registry(ctx, names, registry)
            if changes:
                return Fix(f"Use the registry `{registry[0]}` in the thread", Applicability.UNSAFE, changes)
            return None
        return _open_session_fix(ctx, binding, session, target)


def _shared_session(ctx: Context, expr: cst.CSTNode, scope: Scope) -> Optional[Value]:
    value = ctx.infer(expr, scope)
    if value is None or value.kind is not Kind.SESSION or value.flask:
        return None
    return value


def _proof(ctx: Context, session: Value, binding: Optional[Binding]) -> str:
    """" (opened from `SessionLocal`, a sessionmaker defined at app/db.py:12)": where the
    Session comes from, as far as known; empty when nothing is."""
    source = session.from_registry or session.factory
    if source is not None and source.name:
        where = ctx.where(source)
        return f" (opened from `{source.name}`, {source.describe()}" + (f" defined at {where})" if where else ")")
    if binding is not None and binding.kind == "param":
        return f" (a parameter of `{binding.scope.name}`, {ctx.path}:{ctx.line(binding.node)})"
    where = ctx.where(session)
    return f" (opened at {where})" if where else ""


def _head(ctx: Context, call: cst.Call) -> str:
    """``threading.Thread(...)``: the spawning call, short."""
    return f"{ctx.code(call.func)}(...)"


def _factory_call(ctx: Context, session: Value) -> Optional[str]:
    """``SessionLocal()`` when the Session was opened by calling a factory name without
    arguments."""
    opened = _opening_call(ctx, session)
    return ctx.code(opened) if opened is not None else None


def _opening_call(ctx: Context, session: Value) -> Optional[cst.Call]:
    node = session.node
    if isinstance(node, cst.Assign):
        node = node.value
    if isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Name):
        return node
    return None


def _open_session_fix(ctx: Context, binding: Binding, session: Value, target: Target) -> Optional[Fix]:
    """Wrap the thread-run function's body in ``with Factory() as <name>:``."""
    opened = _opening_call(ctx, session)
    if opened is None or session.is_async or not isinstance(target, cst.FunctionDef):
        return None
    if target.asynchronous is not None or not isinstance(target.body, cst.IndentedBlock):
        return None
    scope = ctx.model.scope_of_node[target]
    if scope.yields or binding.name in scope.bindings:
        return None
    factory_name = opened.func.value  # type: ignore[union-attr]
    opened_scope = ctx.model.scope(opened)
    if ctx.model.single_binding(factory_name, scope) is not ctx.model.single_binding(factory_name, opened_scope):
        return None
    body = list(target.body.body)
    head = []
    if body and _is_docstring(body[0]):
        head, body = body[:1], body[1:]
    if not body:
        return None
    wrapped = cst.With(
        items=[cst.WithItem(cst.Call(cst.Name(factory_name)), asname=cst.AsName(cst.Name(binding.name)))],
        body=cst.IndentedBlock(body=body),
    )
    new_body = target.body.with_changes(body=[*head, wrapped])
    return Fix(f"Open `with {factory_name}() as {binding.name}:` inside `{target.name.value}`",
               Applicability.UNSAFE, [(target.body, new_body)])


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))
