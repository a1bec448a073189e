"""What runs in another thread or another process: the calls that start one, and the code
they hand over.

Every spawning API is recognised by its resolved name (``model.qualified_name``), or, for
the methods of a pool or executor, by what the receiver was built from. A target is
resolved to its ``def`` (or lambda) in this module when possible; a target that cannot be
resolved is dropped, so rules stay silent on it. Computed once per file and cached on the
context.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Optional, Union

import libcst as cst

from sqlalint.model import Binding, Scope

if TYPE_CHECKING:
    from sqlalint.context import Context
    from sqlalint.infer import Value

THREAD = "thread"
PROCESS = "process"

Target = Union[cst.FunctionDef, cst.Lambda]

THREAD_CLASSES = frozenset({"threading.Thread", "threading.Timer"})
PROCESS_CLASSES = frozenset({
    "billiard.Process",
    "multiprocessing.Process",
    "multiprocessing.context.Process",
    "multiprocessing.process.BaseProcess",
})
THREAD_POOLS = frozenset({
    "concurrent.futures.ThreadPoolExecutor",
    "concurrent.futures.thread.ThreadPoolExecutor",
    "multiprocessing.dummy.Pool",
    "multiprocessing.pool.ThreadPool",
})
PROCESS_POOLS = frozenset({
    "concurrent.futures.ProcessPoolExecutor",
    "concurrent.futures.process.ProcessPoolExecutor",
    "multiprocessing.Pool",
    "multiprocessing.pool.Pool",
    "billiard.Pool",
    "billiard.pool.Pool",
})
FORKS = frozenset({"os.fork", "os.forkpty"})
GET_CONTEXT = frozenset({"multiprocessing.get_context", "billiard.get_context"})
LOOP_GETTERS = frozenset({"asyncio.get_event_loop", "asyncio.get_running_loop", "asyncio.new_event_loop",
                          "asyncio.events.get_event_loop", "asyncio.events.get_running_loop"})
TO_THREAD = frozenset({"asyncio.to_thread", "asyncio.threads.to_thread"})
PARTIALS = frozenset({"functools.partial"})
# Pool / executor methods: name -> index of the function argument.
POOL_METHODS = {
    "submit": 0, "map": 0, "apply": 0, "apply_async": 0, "map_async": 0, "imap": 0,
    "imap_unordered": 0, "starmap": 0, "starmap_async": 0,
}
# Methods whose remaining arguments are handed to the function one call at a time.
DIRECT_ARGS = frozenset({"submit"})
# Start methods that do not fork: the child starts a fresh interpreter and inherits nothing.
NON_FORK_METHODS = frozenset({"spawn", "forkserver"})


@dataclass(eq=False)
class Pool:
    """A pool or executor built by ``call``; ``kind`` says whether its workers are threads or
    processes."""

    call: cst.Call
    kind: str
    initializer: Optional[cst.BaseExpression] = None


@dataclass(eq=False)
class Spawn:
    """A call that runs code in another thread or process.

    ``origin`` is the call that creates the thread or process (the pool constructor for a
    pool method, the call itself otherwise); ``targets`` the functions that run there, as
    far as they resolve in this module; ``passed`` the values handed to them directly.
    """

    call: cst.Call
    kind: str
    scope: Scope
    origin: cst.Call
    targets: list[Target] = field(default_factory=list)
    passed: list[cst.BaseExpression] = field(default_factory=list)
    initializers: list[Target] = field(default_factory=list)
    unresolved: bool = False  # some handed-over callable could not be resolved


def spawns(ctx: "Context") -> list[Spawn]:
    """Every call of this module that runs code in another thread or process."""
    cached = getattr(ctx, "_sqlalint_spawns", None)
    if cached is None:
        cached = list(_Finder(ctx).find())
        ctx._sqlalint_spawns = cached  # type: ignore[attr-defined]
    return cached


def function_of(ctx: "Context", expr: cst.BaseExpression, scope: Scope) -> Optional[Target]:
    """The ``def`` or lambda of this module that ``expr`` names, or None."""
    if isinstance(expr, cst.Lambda):
        return expr
    if isinstance(expr, cst.Name):
        binding = ctx.model.single_binding(expr.value, scope)
        if binding is not None and binding.kind == "def" and isinstance(binding.node, cst.FunctionDef):
            return binding.node
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value in ("self", "cls"):
        method = _method_of_class(ctx, expr.value, expr.attr.value, scope)
        if method is not None:
            return method
    return None


def callees(ctx: "Context", function: Target, depth: int = 3) -> Iterator[Target]:
    """``function`` and the functions of this module it calls, transitively (bounded)."""
    seen: set[int] = set()
    todo = [(function, 0)]
    while todo:
        current, level = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if level >= depth:
            continue
        for scope in ctx.model.scope_of_node[current].walk():
            for call in scope.calls:
                found = function_of(ctx, call.func, scope)
                if found is not None:
                    todo.append((found, level + 1))


def _method_of_class(ctx: "Context", receiver: cst.Name, name: str, scope: Scope) -> Optional[cst.FunctionDef]:
    current: Optional[Scope] = scope
    while current is not None and current.kind != "class":
        current = current.parent
    if current is None:
        return None
    found = current.bindings.get(name, [])
    if len(found) == 1 and found[0].kind == "def" and isinstance(found[0].node, cst.FunctionDef):
        return found[0].node
    return None


def _keyword(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _positional(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None]


def _elements(expr: Optional[cst.BaseExpression]) -> list[cst.BaseExpression]:
    """The items of a literal tuple/list (``args=(a, b)``) or the values of a dict literal."""
    if isinstance(expr, (cst.Tuple, cst.List)):
        return [e.value for e in expr.elements if isinstance(e, cst.Element)]
    if isinstance(expr, cst.Dict):
        return [e.value for e in expr.elements if isinstance(e, cst.DictElement)]
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict":
        return [a.value for a in expr.args if a.keyword is not None]
    return []


class _Finder:
    def __init__(self, ctx: "Context"):
        self.ctx = ctx
        self.model = ctx.model
        self.fork_free = self._start_method_is_not_fork()

    def find(self) -> Iterator[Spawn]:
        for scope in self.model.scopes():
            for call in scope.calls:
                spawn = self._spawn(call, scope)
                if spawn is not None:
                    yield spawn

    # -- what a call is ----------------------------------------------------------------------
    def _spawn(self, call: cst.Call, scope: Scope) -> Optional[Spawn]:
        qualified = self.model.qualified_name(call.func, scope)
        if qualified in THREAD_CLASSES:
            return self._thread(call, scope, qualified)
        if qualified in FORKS:
            return Spawn(call, PROCESS, scope, call)  # forks whatever the start method
        if qualified in TO_THREAD:  # asyncio.to_thread(func, *args)
            values = [a.value for a in _positional(call)]
            return self._handing(call, scope, THREAD, call, values[:1], values[1:]) if values else None
        if qualified in PROCESS_CLASSES or self._context_attr(call.func, scope, "Process"):
            if self.fork_free:
                return None
            return self._handing(call, scope, PROCESS, call, [_keyword(call, "target")],
                                 _elements(_keyword(call, "args")) + _elements(_keyword(call, "kwargs")))
        if not isinstance(call.func, cst.Attribute):
            return None
        method = call.func.attr.value
        receiver = call.func.value
        if method in POOL_METHODS:
            pool = self.pool(receiver, scope)
            if pool is None:
                return None
            return self._pool_task(call, scope, pool, method)
        if method == "run_in_executor":
            return self._run_in_executor(call, scope, receiver)
        if method == "add_done_callback":
            future = self._future(receiver, scope)
            if future is None:
                return None
            args = _positional(call)
            return self._handing(call, scope, future.kind, future.call, [a.value for a in args[:1]], [])
        return None

    def _thread(self, call: cst.Call, scope: Scope, qualified: str) -> Optional[Spawn]:
        positional = _positional(call)
        if qualified == "threading.Timer":
            target = _keyword(call, "function") or (positional[1].value if len(positional) > 1 else None)
        else:
            target = _keyword(call, "target") or (positional[1].value if len(positional) > 1 else None)
        if target is None:
            return None  # a Thread subclass or a bare Thread(): nothing handed over here
        passed = _elements(_keyword(call, "args")) + _elements(_keyword(call, "kwargs"))
        return self._handing(call, scope, THREAD, call, [target], passed)

    def _pool_task(self, call: cst.Call, scope: Scope, pool: Pool, method: str) -> Optional[Spawn]:
        args = call.args
        index = POOL_METHODS[method]
        if len(args) > index and args[index].keyword is None:
            func = args[index].value
        else:
            func = _keyword(call, "fn") or _keyword(call, "func")
            if func is None:
                return None
        if method in DIRECT_ARGS:
            passed = [a.value for a in args[index + 1:] if a.star == ""]
        elif method in ("apply", "apply_async"):  # apply_async(func, args=(), kwds={})
            positional = _positional(call)
            extra = [a.value for a in positional[index + 1:index + 3]]
            passed = _elements(_keyword(call, "args") or (extra[0] if extra else None))
            passed += _elements(_keyword(call, "kwds") or (extra[1] if len(extra) > 1 else None))
        else:
            passed = []  # map-like: each item is handed over; not a direct argument
        spawn = self._handing(call, scope, pool.kind, pool.call, [func], passed)
        if spawn is not None and pool.initializer is not None:
            init = self._resolve_callable(pool.initializer, self.model.scope(pool.call))
            if init is not None:
                spawn.initializers.append(init[0])
        return spawn

    def _run_in_executor(self, call: cst.Call, scope: Scope, receiver: cst.BaseExpression) -> Optional[Spawn]:
        if not self._is_loop(receiver, scope):
            return None
        args = _positional(call)
        if len(args) < 2:
            return None
        executor = args[0].value
        if isinstance(executor, cst.Name) and executor.value == "None":
            kind, origin = THREAD, call
        else:
            pool = self.pool(executor, scope)
            if pool is None:
                return None
            kind, origin = pool.kind, pool.call
        return self._handing(call, scope, kind, origin, [args[1].value], [a.value for a in args[2:]])

    def _handing(self, call: cst.Call, scope: Scope, kind: str, origin: cst.Call,
                 funcs: list[Optional[cst.BaseExpression]], passed: list[cst.BaseExpression]) -> Optional[Spawn]:
        spawn = Spawn(call, kind, scope, origin, passed=list(passed))
        for func in funcs:
            if func is None:
                return None
            resolved = self._resolve_callable(func, scope)
            if resolved is None:
                spawn.unresolved = True
                continue
            target, bound = resolved
            spawn.targets.append(target)
            spawn.passed.extend(bound)
        return spawn

    def _resolve_callable(self, expr: cst.BaseExpression, scope: Scope
                          ) -> Optional[tuple[Target, list[cst.BaseExpression]]]:
        """The function a callable expression runs, with the arguments already bound to it
        (``functools.partial(f, session)``)."""
        if isinstance(expr, cst.Call) and self.model.qualified_name(expr.func, scope) in PARTIALS:
            args = expr.args
            if not args or args[0].keyword is not None:
                return None
            inner = self._resolve_callable(args[0].value, scope)
            if inner is None:
                return None
            return inner[0], inner[1] + [a.value for a in args[1:] if a.star == ""]
        found = function_of(self.ctx, expr, scope)
        return (found, []) if found is not None else None

    # -- receivers -----------------------------------------------------------------------------
    def pool(self, expr: cst.BaseExpression, scope: Scope) -> Optional[Pool]:
        """The pool or executor ``expr`` is: a call of a pool class, or a name bound once
        to one (``pool = Pool()``, ``with ThreadPoolExecutor() as pool``)."""
        if isinstance(expr, cst.Call):
            return self._pool_call(expr, scope)
        if isinstance(expr, cst.Name):
            binding = self.model.single_binding(expr.value, scope)
            if binding is not None and binding.kind in ("assign", "annassign", "with") \
                    and isinstance(binding.value, cst.Call):
                return self._pool_call(binding.value, binding.scope)
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
            return self._self_pool(expr, scope)
        return None

    def _pool_call(self, call: cst.Call, scope: Scope) -> Optional[Pool]:
        qualified = self.model.qualified_name(call.func, scope)
        initializer = _keyword(call, "initializer")
        if qualified in THREAD_POOLS:
            return Pool(call, THREAD, initializer)
        if qualified in PROCESS_POOLS or self._context_attr(call.func, scope, "Pool"):
            if self.fork_free or self._spawn_context(_keyword(call, "mp_context"), scope):
                return None
            if initializer is None:
                positional = _positional(call)
                # multiprocessing.Pool(processes, initializer, ...)
                initializer = positional[1].value if len(positional) > 1 and qualified in (
                    "multiprocessing.Pool", "multiprocessing.pool.Pool", "billiard.Pool") else None
            return Pool(call, PROCESS, initializer)
        return None

    def _self_pool(self, expr: cst.Attribute, scope: Scope) -> Optional[Pool]:
        """``self.pool`` assigned exactly once in the class, from a pool constructor."""
        current: Optional[Scope] = scope
        while current is not None and current.kind != "class":
            current = current.parent
        if current is None:
            return None
        found: list[Pool] = []
        for inner in current.walk():
            for call in inner.calls:
                parent = self.model.parent(call)
                if isinstance(parent, cst.Assign) and any(
                        isinstance(t.target, cst.Attribute) and isinstance(t.target.value, cst.Name)
                        and t.target.value.value == "self" and t.target.attr.value == expr.attr.value
                        for t in parent.targets):
                    pool = self._pool_call(call, inner)
                    if pool is None:
                        return None
                    found.append(pool)
        return found[0] if len(found) == 1 else None

    def _context_attr(self, func: cst.BaseExpression, scope: Scope, attr: str) -> bool:
        """``multiprocessing.get_context("fork").Pool`` (or through a name bound to the
        context); a ``spawn``/``forkserver`` context does not fork and does not count."""
        if not isinstance(func, cst.Attribute) or func.attr.value != attr:
            return False
        owner = func.value
        if isinstance(owner, cst.Name):
            binding = self.model.single_binding(owner.value, scope)
            if binding is None or binding.kind not in ("assign", "annassign") \
                    or not isinstance(binding.value, cst.Call):
                return False
            owner, scope = binding.value, binding.scope
        if not isinstance(owner, cst.Call) or self.model.qualified_name(owner.func, scope) not in GET_CONTEXT:
            return False
        return not self._spawn_context(owner, scope)

    def _spawn_context(self, expr: Optional[cst.BaseExpression], scope: Scope) -> bool:
        """Is ``expr`` ``get_context("spawn")`` / ``("forkserver")`` (or a name bound to it)?"""
        if isinstance(expr, cst.Name):
            binding = self.model.single_binding(expr.value, scope)
            if binding is None or binding.kind not in ("assign", "annassign"):
                return False
            expr, scope = binding.value, binding.scope
        if not isinstance(expr, cst.Call) or self.model.qualified_name(expr.func, scope) not in GET_CONTEXT:
            return False
        args = _positional(expr)
        return bool(args) and isinstance(args[0].value, cst.SimpleString) and \
            args[0].value.evaluated_value in NON_FORK_METHODS

    def _start_method_is_not_fork(self) -> bool:
        """``multiprocessing.set_start_method("spawn")`` anywhere in the module."""
        for scope in self.model.scopes():
            for call in scope.calls:
                if self.model.qualified_name(call.func, scope) == "multiprocessing.set_start_method":
                    args = _positional(call)
                    if args and isinstance(args[0].value, cst.SimpleString) and \
                            args[0].value.evaluated_value in NON_FORK_METHODS:
                        return True
        return False

    def _is_loop(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(expr, cst.Name):
            binding = self.model.single_binding(expr.value, scope)
            if binding is None or binding.kind not in ("assign", "annassign") or binding.value is None:
                return False
            expr, scope = binding.value, binding.scope
        return isinstance(expr, cst.Call) and self.model.qualified_name(expr.func, scope) in LOOP_GETTERS

    def _future(self, expr: cst.BaseExpression, scope: Scope) -> Optional[Pool]:
        """The pool whose ``submit`` made the future ``expr``."""
        if isinstance(expr, cst.Name):
            binding = self.model.single_binding(expr.value, scope)
            if binding is None or binding.kind not in ("assign", "annassign") or binding.value is None:
                return None
            expr, scope = binding.value, binding.scope
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "submit":
            return self.pool(expr.func.value, scope)
        return None


# -- sessions shared across threads: what SLA202 and SLA203 both need ----------------------


def registry_for(ctx: "Context", session: "Value") -> Optional[tuple[str, Binding]]:
    """The module-level name and binding of the scoped_session registry ``session`` was
    taken from, when there is exactly one (Flask-SQLAlchemy's is managed: None)."""
    registry = session.from_registry
    if registry is None or registry.flask or not registry.name or registry.node is None:
        return None
    binding = ctx.model.single_binding(registry.name, ctx.model.root)
    if binding is None or binding.node is not registry.node:
        return None
    return registry.name, binding


def use_registry(ctx: "Context", names: list[cst.Name], registry: tuple[str, Binding]) -> Optional[list]:
    """Changes that make each of ``names`` read the registry instead; None when the registry
    name means something else at one of them."""
    name, binding = registry
    changes = []
    for node in names:
        scope = ctx.model.scope(node)
        if ctx.model.single_binding(name, scope) is not binding:
            return None
        changes.append((node, cst.Name(name)))
    return changes
