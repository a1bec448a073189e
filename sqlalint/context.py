"""What a rule sees of one file: the model, inference, settings, and lazy positions."""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import TYPE_CHECKING, Optional

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from sqlalint.infer import Inference, Kind, Value
from sqlalint.model import Model, Scope

if TYPE_CHECKING:
    from sqlalint.config import Settings

_NEWLINE = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Converts between (line, column) and character offsets, with libcst's line breaks."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]

    def offset(self, line: int, column: int) -> int:
        """``line`` is 1-based, ``column`` 0-based characters."""
        return self.starts[line - 1] + column

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based column) of a character offset."""
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1]


class Context:
    def __init__(self, source: str, tree: cst.Module, model: Model, inference: Inference,
                 settings: "Settings", path: str):
        self.source = source
        self.tree = tree
        self.model = model
        self.inference = inference
        self.settings = settings
        self.path = path
        self._positions: Optional[dict] = None
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
        if self._positions is None:
            self._positions = MetadataWrapper(self.tree, unsafe_skip_copy=True).resolve(PositionProvider)
        return self._positions[node]

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
