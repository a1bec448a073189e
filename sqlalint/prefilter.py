"""Decide, before paying for libcst, which files no selected rule can match.

The byte triggers (engine.worth_parsing) keep every file that says ``session`` or ``for``;
on a Flask-SQLAlchemy application that is most of them, and libcst plus the model costs
tens of times what ``ast.parse`` does (C). So a surviving file is parsed with the stdlib
``ast`` once, reduced to :class:`AstFacts` (which identifiers its code uses, which methods
it calls, whether it iterates a call), and each selected rule is asked for a cheap
*necessary* condition on those facts. Only when one rule may match does libcst run.

Conservative by construction: a rule can define ``could_match(facts, names) -> bool``;
otherwise its entry in :data:`NECESSARY` is used; a rule with neither always passes, and a
file ``ast`` cannot parse (a syntax error, or syntax newer than this Python) always passes.
Identifiers of project-defined engines, factories and registries (the project index, the
``session-factories``/``engine-factories`` settings) count as session/engine names.
tests/test_prefilter.py runs every rule's invalid examples and every labelled case through
it: each must pass.
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

from sqlalint import sqla


@dataclass(frozen=True)
class AstFacts:
    names: frozenset  # identifiers in code: names, attributes, imported names and aliases, defs, keywords
    called_attrs: frozenset  # ``x.m(...)`` -> "m"
    called_names: frozenset  # ``f(...)`` -> "f"
    iterates_call: bool  # ``for x in f(...)`` or a comprehension over a call


def _last(qualified: Iterable[str]) -> frozenset:
    return frozenset(q.rpartition(".")[2] for q in qualified)


ENGINE_NAMES = _last(sqla.ENGINE_CONSTRUCTORS | sqla.ASYNC_ENGINE_CONSTRUCTORS)
SESSION_NAMES = _last(sqla.SESSIONMAKERS | sqla.ASYNC_SESSIONMAKERS | sqla.SCOPED_SESSIONS
                      | sqla.SESSION_CLASSES | sqla.ASYNC_SESSION_CLASSES)
CACHE_NAMES = _last(sqla.FUNCTOOLS_CACHES)
EXECUTE_METHODS = frozenset({"execute", "exec_driver_sql"})
QUERY_ORIGINS = frozenset({"query", "execute", "scalars", "exec", "scalar"})


def facts_of(source: str | bytes) -> Optional[AstFacts]:
    """The facts of a module, or None when ``ast`` cannot parse it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    names: set[str] = set()
    called_attrs: set[str] = set()
    called_names: set[str] = set()
    iterates = False
    Name, Attribute, Call, alias = ast.Name, ast.Attribute, ast.Call, ast.alias
    loops = (ast.For, ast.comprehension)
    for node in ast.walk(tree):
        kind = node.__class__
        if kind is Name:
            names.add(node.id)  # type: ignore[attr-defined]
        elif kind is Attribute:
            names.add(node.attr)  # type: ignore[attr-defined]
        elif kind is Call:
            func = node.func  # type: ignore[attr-defined]
            if func.__class__ is Attribute:
                called_attrs.add(func.attr)
            elif func.__class__ is Name:
                called_names.add(func.id)
        elif kind is alias:
            names.update(node.name.split("."))  # type: ignore[attr-defined]
            if node.asname:  # type: ignore[attr-defined]
                names.add(node.asname)  # type: ignore[attr-defined]
        elif kind in loops:
            iterates = iterates or node.iter.__class__ is Call  # type: ignore[attr-defined]
        elif kind is ast.keyword and node.arg:  # type: ignore[attr-defined]
            names.add(node.arg)  # type: ignore[attr-defined]
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            names.add(node.name)  # type: ignore[attr-defined]
        elif kind is ast.ImportFrom and node.module:  # type: ignore[attr-defined]
            names.update(node.module.split("."))  # type: ignore[attr-defined]
    return AstFacts(frozenset(names), frozenset(called_attrs), frozenset(called_names), iterates)


def _uses_session(f: AstFacts, project: frozenset) -> bool:
    return bool(f.names & SESSION_NAMES or f.names & project)


def _uses_engine(f: AstFacts, project: frozenset) -> bool:
    return bool(f.names & ENGINE_NAMES or f.names & project)


def _loads_query(f: AstFacts, project: frozenset) -> bool:
    return bool(("all" in f.called_attrs or f.iterates_call) and f.names & QUERY_ORIGINS)


# Necessary conditions by rule code: False means the rule cannot report on the file.
# ``project`` holds the identifiers of project-defined engines, factories and registries.
NECESSARY: dict[str, Callable[[AstFacts, frozenset], bool]] = {
    "SLA101": _uses_engine,
    "SLA201": lambda f, p: bool(f.names & CACHE_NAMES),
    "SLA202": _uses_session,
    "SLA203": _uses_session,
    "SLA204": _uses_session,
    "SLA205": _uses_session,
    "SLA206": _uses_session,
    "SLA301": _loads_query,
    "SLA302": lambda f, p: "len" in f.called_names and "all" in f.called_attrs,
    "SLA401": lambda f, p: bool(f.called_attrs & EXECUTE_METHODS or "text" in f.names),
    "SLA402": lambda f, p: "execute" in f.called_attrs,
}


_PROJECT_MEMO: dict[tuple[int, int], frozenset] = {}
# Project names that cannot give a non-Flask Session or an Engine: models, bases, the
# Flask-SQLAlchemy extension (its session is Flask-managed, which the session rules skip).
_NOT_SESSIONS = ("MODEL", "BASE", "FLASK_DB")


def project_names(settings: Any, index: Any) -> frozenset:
    """Identifiers that may name a project-defined engine, session factory or registry."""
    key = (id(settings), id(index))
    if key not in _PROJECT_MEMO:
        names = {q.rpartition(".")[2] for q in (*settings.session_factories, *settings.engine_factories)}
        if index is not None:
            facts = getattr(index, "facts", None)
            if facts is not None:
                names.update(q.rpartition(".")[2] for q, value, *_ in facts()
                             if value.kind.name not in _NOT_SESSIONS)
            else:
                names.update(index.trigger_names())
        _PROJECT_MEMO.clear()
        _PROJECT_MEMO[key] = frozenset(names)
    return _PROJECT_MEMO[key]


def enabled() -> bool:
    return os.environ.get("SQLALINT_NO_PREFILTER", "") == ""


def could_match(source: str | bytes, rules: Sequence[Any], project: frozenset) -> bool:
    """False only when every rule in ``rules`` (those whose byte triggers the file holds)
    provably cannot report on ``source``."""
    checks = []
    for rule in rules:
        check = getattr(rule, "could_match", None) or NECESSARY.get(rule.code)
        if check is None:
            return True  # this rule has no cheap condition: libcst decides
        checks.append(check)
    if not checks:
        return True
    facts = facts_of(source)
    if facts is None:
        return True
    return any(check(facts, project) for check in checks)
