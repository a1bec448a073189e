"""Tree edits that several rules' fixes share. Each returns ``NodeChange``s (or None when
the edit cannot be made without losing a comment, in which case the rule offers less)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

from sqlalint.model import Binding, dotted_name
from sqlalint.rule import NodeChange

if TYPE_CHECKING:
    from sqlalint.context import Context


def _comment_lines(whitespace: cst.TrailingWhitespace) -> list[cst.EmptyLine]:
    if whitespace.comment is None:
        return []
    return [cst.EmptyLine(indent=True, whitespace=cst.SimpleWhitespace(""), comment=whitespace.comment)]


def remove_decorator(function: cst.FunctionDef | cst.ClassDef, decorator: cst.Decorator) -> NodeChange:
    """Drop one decorator; its comments (above it and at its end) stay where they were."""
    decorators = list(function.decorators)
    index = next(i for i, d in enumerate(decorators) if d is decorator)
    kept_lines = [*decorator.leading_lines, *_comment_lines(decorator.trailing_whitespace)]
    del decorators[index]
    changes: dict = {"decorators": decorators}
    if kept_lines:
        if index < len(decorators):
            following = decorators[index]
            decorators[index] = following.with_changes(leading_lines=[*kept_lines, *following.leading_lines])
        else:
            changes["lines_after_decorators"] = [*kept_lines, *function.lines_after_decorators]
    if index == 0 and not decorators and function.leading_lines is not None:
        pass  # the function's own leading lines (blank lines above) are untouched
    return function, function.with_changes(**changes)


def uses_of(ctx: "Context", binding: Binding) -> list[cst.Name]:
    """Name loads anywhere in the module that resolve to ``binding``."""
    found = []
    for scope in ctx.model.scopes():
        for name in scope.names:
            if name.value == binding.name and binding in ctx.model.lookup(name.value, scope):
                found.append(name)
    return found


def remove_unused_import(ctx: "Context", binding: Binding, ignoring: set[cst.CSTNode]) -> Optional[NodeChange]:
    """Remove the import behind ``binding`` when its only loads are inside ``ignoring``.

    Returns None when the name is still used, or when removing the statement would drop a
    comment (then the import is left for a person or another linter to remove).
    """
    if binding.kind != "import" or not isinstance(binding.node, cst.ImportAlias):
        return None
    for name in uses_of(ctx, binding):
        if not any(node in ignoring for node in [name, *ctx.model.ancestors(name)]):
            return None
    if binding.scope.kind != "module" and binding.scope.kind != "function":
        return None
    alias = binding.node
    statement = ctx.model.parent(alias)
    if not isinstance(statement, (cst.Import, cst.ImportFrom)):
        return None
    names = statement.names
    if isinstance(names, cst.ImportStar):
        return None
    remaining = [a for a in names if a is not alias]
    if remaining:
        last = remaining[-1]
        if names[-1] is alias and isinstance(statement, cst.ImportFrom) and statement.rpar is None:
            remaining[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return statement, statement.with_changes(names=remaining)
    line = ctx.model.parent(statement)
    if not isinstance(line, cst.SimpleStatementLine):
        return None
    if len(line.body) > 1:
        return statement, cst.RemovalSentinel.REMOVE
    if line.trailing_whitespace.comment is not None or any(e.comment for e in line.leading_lines):
        return None
    if isinstance(ctx.model.parent(line), (cst.IndentedBlock,)) and len(ctx.model.parent(line).body) == 1:
        return None  # the only statement of a block: removing it would leave the block empty
    return line, cst.RemovalSentinel.REMOVE


def remove_arg(call: cst.Call, arg: cst.Arg) -> Optional[NodeChange]:
    """Drop one argument of a call, keeping the commas right. None when a comment sits in
    the argument (removing it would lose the comment)."""
    args = list(call.args)
    index = next(i for i, a in enumerate(args) if a is arg)
    if "#" in cst.Module([]).code_for_node(arg):
        return None
    del args[index]
    if args and index == len(args):  # removed the last one: the new last keeps the old comma
        args[-1] = args[-1].with_changes(comma=arg.comma)
    if not args:
        return call, call.with_changes(args=[], whitespace_before_args=cst.SimpleWhitespace(""))
    return call, call.with_changes(args=args)


def add_import(ctx: "Context", module: str, name: str, qualified: frozenset,
               scope) -> Optional[tuple[str, Optional[NodeChange]]]:
    """Make ``name`` from ``module`` usable in ``scope``: (the expression to write, the change).

    Reuses what is already imported: a name bound to one of ``qualified`` (``text``,
    ``sa_text``), or the module itself (``sa.text`` after ``import sqlalchemy as sa``); the
    change is then None. Otherwise adds ``name`` to an existing top-level
    ``from <module> import ...`` or inserts ``from <module> import <name>`` after the
    module's first block of imports. None when ``name`` is already bound to something else.
    """
    model = ctx.model
    root = model.root
    for current in _visible_scopes(scope):
        for bound, bindings in current.bindings.items():
            seen = model.single_binding(bound, scope) if any(b.kind == "import" for b in bindings) else None
            if seen is not None and seen.kind == "import" and seen.qualified in qualified:
                return bound, None
    for bound, bindings in root.bindings.items():
        if len(bindings) == 1 and bindings[0].kind == "import" and bindings[0].qualified == module \
                and model.single_binding(bound, scope) is bindings[0]:
            return f"{bound}.{name}", None
    if model.lookup(name, scope) or root.bindings.get(name):
        return None
    body = list(ctx.tree.body)
    for statement in body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if (isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None
                    and dotted_name(small.module) == module and not isinstance(small.names, cst.ImportStar)
                    and "#" not in ctx.code(small)):  # commas would carry comments along
                names = list(small.names)
                last = names[-1]
                if small.rpar is None:
                    names[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    names.append(cst.ImportAlias(cst.Name(name)))
                elif isinstance(last.comma, cst.Comma):  # parenthesised with a trailing comma
                    names.append(cst.ImportAlias(cst.Name(name), comma=last.comma))
                    names[-2] = last.with_changes(comma=names[-3].comma if len(names) > 2 else cst.Comma(
                        whitespace_after=cst.SimpleWhitespace(" ")))
                else:
                    names[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    names.append(cst.ImportAlias(cst.Name(name)))
                return name, (small, small.with_changes(names=names))
    new = cst.parse_statement(f"from {module} import {name}\n")
    anchor = None
    for index, statement in enumerate(body):
        if _is_import_line(statement) or (index == 0 and _is_docstring(statement)):
            anchor = statement
        else:
            break
    if anchor is not None:
        return name, (anchor, cst.FlattenSentinel([anchor, new]))
    if not body:
        return None
    first = body[0]  # the new import goes above it, below its leading comments
    new = new.with_changes(leading_lines=first.leading_lines)
    return name, (first, cst.FlattenSentinel([new, first.with_changes(leading_lines=[])]))


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _visible_scopes(scope):
    current = scope
    while current is not None:
        yield current
        current = current.parent
