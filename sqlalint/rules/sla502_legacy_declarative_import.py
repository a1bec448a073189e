from __future__ import annotations

from typing import Iterator

import libcst as cst

from sqlalint.context import Context
from sqlalint.model import dotted_name
from sqlalint.rule import Applicability, Example, Fix, Report, Rule

LEGACY_MODULE = "sqlalchemy.ext.declarative"
# Names that sqlalchemy.ext.declarative re-exports from sqlalchemy.orm since 1.4. The rest of
# the module (ConcreteBase, AbstractConcreteBase, DeferredReflection) still lives there.
MOVED = frozenset({"declarative_base", "declared_attr", "as_declarative", "has_inherited_table",
                   "synonym_for", "DeclarativeMeta"})


class LegacyDeclarativeImport(Rule):
    """
    ## What it does
    Checks for `declarative_base` (and the other names that moved with it) imported from
    `sqlalchemy.ext.declarative`, and for `from sqlalchemy.ext import declarative`.

    ## Why is this bad?
    Since SQLAlchemy 1.4 these live in `sqlalchemy.orm`; the old location is deprecated
    (it warns under `SQLALCHEMY_WARN_20`) and is kept only as an alias.

    ## Example
    ```python
    from sqlalchemy.ext.declarative import declarative_base
    ```

    ## Use instead
    ```python
    from sqlalchemy.orm import declarative_base
    ```

    ## Fix safety
    Safe: `sqlalchemy.orm` exports the same objects. The fix is offered only when every
    name in the statement moved; `from sqlalchemy.ext import declarative` has no fix, since
    each use of `declarative.<name>` would have to change.

    ## Options
    None.
    """

    code = "SLA502"
    name = "legacy-declarative-import"
    summary = "declarative_base imported from sqlalchemy.ext.declarative"
    fixable = Applicability.SAFE

    valid = [
        Example("""\
from sqlalchemy.orm import declarative_base, declared_attr
from sqlalchemy.ext.declarative import ConcreteBase, DeferredReflection
from . import declarative
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy.ext.declarative import declarative_base  # error: 1
Base = declarative_base()
""", fixed="""\
from sqlalchemy.orm import declarative_base  # error: 1
Base = declarative_base()
"""),
        Example("""\
import sqlalchemy as sa
from sqlalchemy.ext.declarative import (  # error
    declarative_base as make_base,  # the base
    declared_attr,
)
""", fixed="""\
import sqlalchemy as sa
from sqlalchemy.orm import (  # error
    declarative_base as make_base,  # the base
    declared_attr,
)
"""),
        Example("""\
def build():
    from sqlalchemy.ext.declarative import declarative_base, ConcreteBase  # error: 5
    from sqlalchemy.ext import declarative  # error: 5
    return declarative_base(), declarative, ConcreteBase
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        for node in _import_froms(ctx):
            module = dotted_name(node.module) if node.module is not None and not node.relative else None
            if module == LEGACY_MODULE and not isinstance(node.names, cst.ImportStar):
                names = [dotted_name(alias.name) for alias in node.names]
                moved = [n for n in names if n in MOVED]
                if not moved:
                    continue
                listed = ", ".join(f"`{n}`" for n in moved)
                if len(moved) == len(names):
                    fix = Fix("Import from `sqlalchemy.orm`", Applicability.SAFE,
                              [(node, node.with_changes(module=cst.parse_expression("sqlalchemy.orm")))])
                    advice = "import it from `sqlalchemy.orm`"
                else:
                    fix = None
                    advice = "import those names from `sqlalchemy.orm` and keep the rest here"
                yield Report(node, f"{listed} moved to `sqlalchemy.orm` in SQLAlchemy 1.4; "
                                   f"`{LEGACY_MODULE}` is a deprecated alias: {advice}", fix)
            elif module == "sqlalchemy.ext" and not isinstance(node.names, cst.ImportStar):
                if any(dotted_name(alias.name) == "declarative" for alias in node.names):
                    yield Report(node, "`sqlalchemy.ext.declarative` is deprecated since SQLAlchemy 1.4: "
                                       "import `declarative_base` and friends from `sqlalchemy.orm`")


def _import_froms(ctx: Context) -> Iterator[cst.ImportFrom]:
    """Every ``from ... import`` statement of the module, at any depth."""
    seen = set()
    for scope in ctx.model.scopes():
        for bindings in scope.bindings.values():
            for binding in bindings:
                if binding.kind == "import":
                    parent = ctx.model.parent(binding.node)
                    if isinstance(parent, cst.ImportFrom) and id(parent) not in seen:
                        seen.add(id(parent))
                        yield parent
