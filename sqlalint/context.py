"""What a rule sees of one file: the model, inference, settings, and lazy positions."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Optional

import libcst as cst
from libcst._nodes.internal import CodegenState  # the public CST nodes take it in _codegen
from libcst.metadata import CodePosition, CodeRange

from sqlalint import newer_syntax
from sqlalint.diagnostics import LineIndex  # noqa: F401 (re-exported)
from sqlalint.infer import Inference, Kind, Value
from sqlalint.model import Model, Scope

if TYPE_CHECKING:
    from sqlalint.config import Settings


class _OffsetCodegen(CodegenState):
    """libcst's code generation, recording where each node starts and ends as character
    offsets. Gives the same ranges as libcst's ``PositionProvider`` (syntactic positions:
    parentheses and surrounding whitespace excluded) at a fraction of its cost, which goes
    into splitting every token on newlines; offsets become lines only for reported nodes.
    Keyed by ``id(node)``: the tree outlives the spans, and libcst hashes in Python."""

    def __init__(self, module: cst.Module):
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.offset = 0
        self.spans: dict[int, tuple[int, int]] = {}  # syntactic positions libcst records
        self.extents: dict[int, tuple[int, int]] = {}  # all of a node's code, whitespace included
        self.starts: list[int] = []

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def pop_trailing_newline(self) -> None:
        if self.tokens:
            self.offset -= len(self.tokens.pop())

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        self.extents[id(node)] = (self.starts.pop(), self.offset)

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        """The syntactic span: recorded inside the node's code generation when libcst does
        so (it excludes parentheses and surrounding whitespace), else the whole extent."""
        return self.spans.get(id(node)) or self.extents[id(node)]

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: Optional[cst.CSTNode] = None,
                                  end_node: Optional[cst.CSTNode] = None) -> "_Syntactic":
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    """The context manager of ``record_syntactic_position`` (a class: cheaper than a generator)."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: _OffsetCodegen, node: cst.CSTNode, start_node: Optional[cst.CSTNode],
                 end_node: Optional[cst.CSTNode]):
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = self.state.offset

    def __exit__(self, *exc_info: object) -> None:
        state = self.state
        start = state.span(self.start_node)[0] if self.start_node is not None else self.start
        end = state.span(self.end_node)[1] if self.end_node is not None else state.offset
        state.spans[id(self.node)] = (start, end)


def node_spans(tree: cst.Module) -> _OffsetCodegen:
    """``id(node)`` of every node of ``tree`` -> its (start, end) character offsets in
    ``tree.code``: ``.spans`` (syntactic, as PositionProvider) and ``.extents`` (all of
    the node's code)."""
    state = _OffsetCodegen(tree)
    tree._codegen(state)
    return state


class _Positions:
    """Node offsets, rendered one top-level statement at a time: a finding in a 40-line
    function of a 2,000-line module renders that function, not the module. A statement
    starts where CPython's ``ast`` says the one before it ends; the rendered text must
    equal the source there, else (and for nodes outside any statement) the whole module
    is rendered once. Top-level statements render alike alone or in the module: no
    indentation is in effect at module level."""

    def __init__(self, context: "Context"):
        self.context = context
        self.state = _OffsetCodegen(context.tree)  # spans of what has been rendered
        self.rendered: set[int] = set()  # top-level statements rendered
        self.whole = False
        self._starts: Optional[list[int]] = None

    def of(self, node: cst.CSTNode) -> _OffsetCodegen:
        if not self.whole:
            top = self._top_statement(node)
            if top is None or not self._render(top):
                self.state = node_spans(self.context.tree)
                self.whole = True
        return self.state

    def _top_statement(self, node: cst.CSTNode) -> Optional[tuple[int, cst.CSTNode]]:
        tree, parent_of = self.context.tree, self.context.model.parent
        parent = parent_of(node)
        while parent is not None and parent is not tree:
            node, parent = parent, parent_of(parent)
        if parent is None:
            return None
        index = next((k for k, statement in enumerate(tree.body) if statement is node), None)
        return (index, node) if index is not None else None

    def _render(self, top: tuple[int, cst.CSTNode]) -> bool:
        index, statement = top
        if id(statement) in self.rendered:
            return True
        starts = self._statement_starts()
        if index >= len(starts):
            return False
        state = _OffsetCodegen(self.context.tree)
        state.offset = starts[index]
        statement._codegen(state)
        if self.context.source[starts[index]:state.offset] != "".join(state.tokens):
            return False
        self.state.spans.update(state.spans)
        self.state.extents.update(state.extents)
        self.rendered.add(id(statement))
        return True

    def _statement_starts(self) -> list[int]:
        """Where each top-level statement (with the comments and blank lines before it)
        starts: after the header, then on the line after the previous statement ends.
        Only as many as ``ast`` agrees on."""
        if self._starts is not None:
            return self._starts
        tree, source = self.context.tree, self.context.source
        header = _OffsetCodegen(tree)
        for line in tree.header:
            line._codegen(header)
        self._starts = [header.offset]
        try:
            statements = (self.context.syntax or newer_syntax.parse(source)).body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return self._starts
        line_starts, seen = self.context.lines.starts, 0
        for statement in tree.body[:-1]:
            seen += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
            if seen > len(statements):
                break
            after = statements[seen - 1].end_lineno or 0  # the next line starts the next statement
            self._starts.append(line_starts[after] if after < len(line_starts) else len(source))
        return self._starts


class Context:
    def __init__(self, source: str, tree: cst.Module, model: Model, inference: Inference,
                 settings: "Settings", path: str, syntax: Optional[ast.Module] = None):
        self.source = source
        self.tree = tree
        self.syntax = syntax  # ``source`` parsed by ``ast``, when the caller has it
        self.model = model
        self.inference = inference
        self.settings = settings
        self.path = path
        self._positions: Optional[_Positions] = None
        self._lines: Optional[LineIndex] = None

    # -- analysis shortcuts ---------------------------------------------------------------
    def infer(self, expr: cst.CSTNode, scope: Optional[Scope] = None) -> Optional[Value]:
        return self.inference.infer(expr, scope)

    def qualified_name(self, expr: cst.CSTNode, scope: Optional[Scope] = None) -> Optional[str]:
        return self.inference.qualified_name(expr, scope)

    def code(self, node: cst.CSTNode) -> str:
        return self.tree.code_for_node(node)

    # -- positions (computed once per file, and only when something is reported) ----------
    def range(self, node: cst.CSTNode) -> CodeRange:
        start, end = self._offsets(node).span(node)
        return CodeRange(CodePosition(*self.lines.position(start)), CodePosition(*self.lines.position(end)))

    def _offsets(self, node: cst.CSTNode) -> _OffsetCodegen:
        if self._positions is None:
            self._positions = _Positions(self)
        return self._positions.of(node)

    def replacement(self, old: cst.CSTNode, new: object) -> Optional[tuple[int, int, str]]:
        """(start, end, text): the code of ``old`` replaced by ``new`` rendered in place,
        without re-rendering the module. None when that cannot be done exactly here
        (removals, or several nodes in place of an expression): use deep_replace then."""
        if isinstance(new, cst.FlattenSentinel) and isinstance(old, cst.BaseStatement) \
                and all(isinstance(n, cst.BaseStatement) for n in new.nodes):
            nodes: tuple = tuple(new.nodes)
        elif isinstance(new, cst.CSTNode):
            nodes = (new,)
        else:
            return None
        extent = self._offsets(old).extents.get(id(old))
        indent = self._indent_at(old)
        if extent is None or indent is None:
            return None
        state = CodegenState(default_indent=self.tree.default_indent, default_newline=self.tree.default_newline)
        state.indent_tokens = indent
        for node in nodes:
            node._codegen(state)
        return extent[0], extent[1], "".join(state.tokens)

    def _indent_at(self, node: cst.CSTNode) -> Optional[list[str]]:
        """The indentation libcst's code generation is at when it renders ``node``: one
        entry per enclosing indented block (and ``match`` cases). None when the node's
        ancestry is not in the model."""
        indents: list[str] = []
        child = node
        while child is not self.tree:
            parent = self.model.parent(child)
            if parent is None:
                return None
            if isinstance(parent, cst.IndentedBlock) or (
                    isinstance(parent, cst.Match) and any(c is child for c in parent.cases)):
                indents.append(self.tree.default_indent if parent.indent is None else parent.indent)
            child = parent
        indents.reverse()
        return indents

    def line(self, node: cst.CSTNode) -> int:
        return self.range(node).start.line

    @property
    def lines(self) -> LineIndex:
        if self._lines is None:
            self._lines = LineIndex(self.source)
        return self._lines

    def where(self, value: Value) -> str:
        """``app/db.py:12`` for a value defined in this file or found by the project index."""
        if value.path is not None:
            return f"{value.path}:{value.line}" if value.line else value.path
        if value.node is not None:
            try:
                return f"{self.path}:{self.line(value.node)}"
            except KeyError:  # a node of another tree
                return self.path
        return ""

    def evidence(self, value: Value, name: Optional[str] = None) -> str:
        """"`SessionLocal` is a sessionmaker, app/db.py:12": the message's proof."""
        name = name or value.name
        where = self.where(value)
        text = f"`{name}` is {value.describe()}" if name else value.describe().capitalize()
        return f"{text}, {where}" if where else text

    def is_session(self, expr: cst.CSTNode, scope: Optional[Scope] = None) -> Optional[Value]:
        value = self.infer(expr, scope)
        return value if value is not None and value.kind is Kind.SESSION else None
