from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.concurrency import PROCESS, Spawn, Target, callees, spawns
from sqlalint.context import Context
from sqlalint.infer import Kind, Value
from sqlalint.model import Scope
from sqlalint.rule import Example, Report, Rule

# Hooks that run code in every forked child: a module that installs one is taken to handle
# the inherited pool there.
AT_FORK = frozenset({
    "os.register_at_fork",
    "multiprocessing.util.register_after_fork",
    "billiard.util.register_after_fork",
    "kombu.utils.compat.register_after_fork",
})


class PoolInheritedByFork(Rule):
    """
    ## What it does
    Checks for a process that is forked (`multiprocessing.Pool`, `multiprocessing.Process`,
    `ProcessPoolExecutor`, `os.fork`) whose child code uses an Engine created in the parent,
    or a session factory bound to one, while nothing disposes the inherited pool:
    `engine.dispose(close=False)` in the pool's `initializer`, at the start of the child,
    or in the function that forks. `multiprocessing.dummy` pools are threads, not forks,
    and a `spawn`/`forkserver` start method inherits nothing.

    ## Why is this bad?
    A forked child gets a copy of the parent's connection pool, with the parent's open
    sockets in it. Parent and children then talk over the same connections at once:
    results arrive in the wrong process, transactions interleave, and connections are
    closed under somebody else ("SSL error: decryption failed or bad record mac",
    "server closed the connection unexpectedly").

    ## Example
    ```python
    engine = create_engine(URL)

    def load(item_id):
        with engine.connect() as conn:
            ...

    with multiprocessing.Pool(4) as pool:
        pool.map(load, ids)
    ```

    ## Use instead
    ```python
    def reset_pool():
        engine.dispose(close=False)  # drop the parent's connections without closing them

    with multiprocessing.Pool(4, initializer=reset_pool) as pool:
        pool.map(load, ids)
    ```

    ## Fix safety
    No fix: where the child starts is the author's decision. The message names the engine
    and says what to add.

    ## Options
    - `engine-factories`: callables the analysis cannot see into that return an Engine.
    """

    code = "SLA102"
    name = "pool-inherited-by-fork"
    summary = "a forked process inherits the parent's connection pool"

    valid = [
        Example("""\
import multiprocessing
from multiprocessing.dummy import Pool as ThreadPool
from concurrent.futures import ProcessPoolExecutor
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

engine = create_engine("postgresql://db/app")
unpooled = create_engine("postgresql://db/app", poolclass=NullPool)

def reset_pool():
    engine.dispose(close=False)

def load(item_id):
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1"))

def load_unpooled(item_id):
    with unpooled.connect() as conn:
        return conn.execute(text("SELECT 1"))

def compute(n):
    return n * n

def run(ids):
    with multiprocessing.Pool(4, initializer=reset_pool) as pool:
        pool.map(load, ids)
    with ThreadPool(4) as pool:
        pool.map(load, ids)
    with ProcessPoolExecutor() as pool:
        pool.map(load_unpooled, ids)
        pool.map(compute, ids)
    spawned = multiprocessing.get_context("spawn").Pool(2)
    spawned.map(load, ids)
"""),
        Example("""\
import os
from sqlalchemy import create_engine

engine = create_engine("postgresql://db/app")

def child():
    engine.dispose(close=False)
    with engine.connect():
        pass

def run():
    if os.fork() == 0:
        child()
        os._exit(0)
"""),
    ]
    invalid = [
        Example("""\
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://db/app")
SessionLocal = sessionmaker(bind=engine)

def load(item_id):
    with SessionLocal() as session:
        return session.get(dict, item_id)

def run(ids):
    with multiprocessing.Pool(4) as pool:  # error: 10
        pool.map(load, ids)
    with ProcessPoolExecutor(max_workers=2) as executor:  # error: 10
        list(executor.map(load, ids))
    worker = multiprocessing.Process(target=load, args=(1,))  # error: 14
    worker.start()

def fork(item_id):
    pid = os.fork()  # error: 11
    if pid == 0:
        load(item_id)
        os._exit(0)
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        children: dict[int, tuple[cst.Call, Scope, list[Target], list[Target]]] = {}
        for spawn in spawns(ctx):
            if spawn.kind != PROCESS:
                continue
            entry = children.setdefault(id(spawn.origin), (spawn.origin, spawn.scope, [], []))
            entry[2].extend(self._child_code(ctx, spawn))
            entry[3].extend(spawn.initializers)
        if not children or self._fork_hook(ctx):
            return
        for origin, scope, code, initializers in children.values():
            if not code:
                continue
            used = self._engine_used(ctx, code)
            if used is None:
                continue
            parent = [scope.node] if isinstance(scope.node, (cst.FunctionDef, cst.Lambda)) else []
            if self._disposes(ctx, [*code, *initializers, *parent]):
                continue
            yield Report(origin, self._message(ctx, origin, scope, *used))

    @staticmethod
    def _child_code(ctx: Context, spawn: Spawn) -> list[Target]:
        if spawn.targets:
            return list(spawn.targets)
        if spawn.call is spawn.origin and ctx.qualified_name(spawn.call.func, spawn.scope) in ("os.fork", "os.forkpty"):
            # The child runs the rest of the function that forked.
            node = spawn.scope.node
            return [node] if isinstance(node, (cst.FunctionDef, cst.Lambda)) else []
        return []

    @staticmethod
    def _engine_used(ctx: Context, code: list[Target]) -> Optional[tuple[str, Value, Target]]:
        """The first name of the parent's (module-level) engine, or of a session factory
        bound to it, that the child code uses; with the engine and the function using it."""
        for function in code:
            for reached in callees(ctx, function):
                for scope in ctx.model.scope_of_node[reached].walk():
                    for name in scope.names:
                        binding = ctx.model.single_binding(name.value, scope)
                        if binding is None or binding.scope is not ctx.model.root:
                            continue
                        value = ctx.infer(name, scope)
                        engine = _pooled_engine(ctx, value)
                        if engine is not None:
                            return name.value, engine, reached
        return None

    @staticmethod
    def _disposes(ctx: Context, code: list[Target]) -> bool:
        for function in code:
            for reached in callees(ctx, function):
                for scope in ctx.model.scope_of_node[reached].walk():
                    for call in scope.calls:
                        func = call.func
                        if isinstance(func, cst.Attribute) and func.attr.value == "dispose":
                            value = ctx.infer(func.value, scope)
                            if value is not None and value.kind is Kind.ENGINE:
                                return True
        return False

    @staticmethod
    def _fork_hook(ctx: Context) -> bool:
        return any(ctx.qualified_name(call.func, scope) in AT_FORK
                   for scope in ctx.model.scopes() for call in scope.calls)

    @staticmethod
    def _message(ctx: Context, origin: cst.Call, scope: Scope, name: str, engine: Value, user: Target) -> str:
        runner = f"`{user.name.value}`" if isinstance(user, cst.FunctionDef) else "a lambda"
        where = ctx.where(engine)
        proof = f"`{engine.name}` ({engine.describe()}" + (f", {where})" if where else ")")
        via = f" through `{name}`" if name != engine.name else ""
        engine_name = engine.name if engine.kind is Kind.ENGINE and engine.name else "engine"
        made = ", created in the parent" if engine.kind is Kind.ENGINE else ", bound to an engine created in the parent"
        return (f"`{ctx.code(origin.func)}(...)` forks child processes that run {runner}, which uses "
                f"{proof}{via}{made}: the children inherit its pooled connections "
                f"and share their sockets; call `{engine_name}.dispose(close=False)` in an `initializer` "
                f"or at the start of the child")


def _pooled_engine(ctx: Context, value: Optional[Value], depth: int = 0) -> Optional[Value]:
    """The module-level Engine with a pool that ``value`` is, or that the session factory
    (scoped_session registry, Session) ``value`` is bound to or opened from."""
    if value is None or depth > 3 or value.flask:
        return None
    if value.node is None and value.path is not None and value.kind in (
            Kind.ENGINE, Kind.SESSION_FACTORY, Kind.SCOPED_REGISTRY):
        return value  # defined in another module (project index): made at import, in the parent
    if value.kind is Kind.ENGINE:
        call = _value_call(value)
        if call is None or not value.name:
            return None
        poolclass = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "poolclass"), None)
        if poolclass is not None and ctx.qualified_name(poolclass, ctx.model.root) in sqla.NON_POOLING_POOLS:
            return None
        return value
    if value.kind is Kind.SESSION:  # a Session opened in the parent, from a bound factory
        source = value.factory or value.from_registry
        return _pooled_engine(ctx, source, depth + 1) if source is not None else None
    if value.kind in (Kind.SESSION_FACTORY, Kind.SCOPED_REGISTRY):
        call = _value_call(value)
        if call is None:
            return None
        for arg in call.args:
            if arg.keyword is None or arg.keyword.value in ("bind", "session_factory"):
                if arg.keyword is None and arg is not call.args[0]:
                    continue
                found = _pooled_engine(ctx, ctx.infer(arg.value, ctx.model.root), depth + 1)
                if found is not None:
                    return found
    return None


def _value_call(value: Value) -> Optional[cst.Call]:
    """The call that made a module-level value (``engine = create_engine(...)``)."""
    node = value.node
    if isinstance(node, (cst.Assign, cst.AnnAssign)):
        node = node.value
    return node if isinstance(node, cst.Call) else None
