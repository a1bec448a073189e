"""Tree edits that several rules' fixes share. Each returns ``NodeChange``s (or None when
the edit cannot be made without losing a comment, in which case the rule offers less)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

from sqlalint.model import Binding
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
