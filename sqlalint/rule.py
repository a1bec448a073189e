"""The rule API: what a rule is, what it reports, and how it fixes.

A rule is one class in one file under ``sqlalint/rules/``. It never walks the tree itself:
the engine parses the file once, builds a :class:`~sqlalint.model.Model` in one traversal,
and hands it to every selected rule's :meth:`Rule.check`, which yields :class:`Report`s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Iterator, Sequence, Union

import libcst as cst

# Plain data shared with output and the cache (no libcst there): re-exported here.
from sqlalint.diagnostics import Applicability, Edit  # noqa: F401

if TYPE_CHECKING:
    from sqlalint.context import Context


# A change a rule asks for, in tree terms: replace ``old`` with ``new``, or remove ``old``
# from its parent (``new`` is ``cst.RemovalSentinel.REMOVE``). The engine turns each one
# into a text :class:`Edit` by rendering, so every comment and blank line outside it stays.
NodeChange = tuple[cst.CSTNode, Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]]


@dataclass(frozen=True)
class Fix:
    message: str
    applicability: Applicability
    changes: Sequence[NodeChange] = ()
    edits: Sequence[Edit] = ()  # text edits, for rules that compute offsets themselves


@dataclass(frozen=True)
class Report:
    """What a rule yields: the node it points at, the message, and maybe a fix."""

    node: cst.CSTNode
    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class Example:
    """A rule example that runs as a test.

    ``source`` is a whole module. In an invalid example, every line that must be reported
    ends with ``# error`` (or ``# error: <col>`` to pin the 1-based column). ``fixed`` is the
    expected text after applying this rule's fixes (all applicabilities but display-only);
    ``None`` means the example has no applicable fix.
    """

    source: str
    fixed: str | None = None
    settings: dict = field(default_factory=dict)


class Rule:
    """Base class of every rule. Subclasses set the class attributes and ``check``."""

    code: ClassVar[str]  # "SLA201"
    name: ClassVar[str]  # "cached-session"
    summary: ClassVar[str]  # one line, for `sqlalint rules`
    fixable: ClassVar[Applicability | None] = None  # the best applicability it can offer
    valid: ClassVar[Sequence[Example]] = ()
    invalid: ClassVar[Sequence[Example]] = ()

    def check(self, ctx: Context) -> Iterator[Report]:
        raise NotImplementedError

    @property
    def triggers(self) -> tuple[bytes, ...]:
        """The rule only runs on a file whose bytes hold one of these; declared, with its
        cheap necessary condition, in prefilter.py (deciding to skip imports no rule)."""
        from sqlalint.prefilter import TRIGGERS

        return TRIGGERS[self.code]

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")
