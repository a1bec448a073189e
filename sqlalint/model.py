"""The semantic model of one module, built in a single traversal of its libcst tree.

It records what rules need and nothing else: scopes (module, class, function, lambda,
comprehension), the bindings of each name in each scope, the calls, name loads, returns,
yields and ``with`` items of each scope, and every node's parent. Rules query it; they do
not walk the tree again. No libcst metadata provider runs here (they are slow, see
SPEC.md, Performance): positions are computed later, and only for reported nodes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Iterator, Optional, Union

import libcst as cst

ScopeNode = Union[cst.Module, cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.BaseComp]


@dataclass(eq=False)
class Binding:
    """One place where ``name`` is bound in a scope.

    kind: "assign" (value is the assigned expression, or None when unpacked), "annassign",
    "augassign", "import" (``qualified`` holds the imported name), "def", "class", "param",
    "for", "with" (value is the context-manager expression), "except", "global".
    """

    name: str
    kind: str
    node: cst.CSTNode  # the statement (or Param, ImportAlias, WithItem) that binds
    scope: "Scope"
    value: Optional[cst.BaseExpression] = None
    qualified: Optional[str] = None
    is_async: bool = False  # an ``async with`` / ``async for`` binding


@dataclass(eq=False)
class Scope:
    node: ScopeNode
    kind: str  # "module", "class", "function", "lambda", "comprehension"
    parent: Optional["Scope"]
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    calls: list[cst.Call] = field(default_factory=list)
    names: list[cst.Name] = field(default_factory=list)  # loads only
    returns: list[cst.Return] = field(default_factory=list)
    yields: list[cst.Yield] = field(default_factory=list)
    withs: list[cst.With] = field(default_factory=list)
    children: list["Scope"] = field(default_factory=list)

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, cst.FunctionDef) and self.node.asynchronous is not None

    @property
    def name(self) -> str:
        node = self.node
        return node.name.value if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else f"<{self.kind}>"

    def bind(self, binding: Binding) -> None:
        self.bindings.setdefault(binding.name, []).append(binding)

    def walk(self) -> Iterator["Scope"]:
        """This scope and every scope nested in it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


def dotted_name(node: cst.CSTNode) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _target_names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _import_base(module: Optional[cst.BaseExpression]) -> str:
    return dotted_name(module) if module is not None else ""


def absolute_module(package: str, relative: int, module: str) -> Optional[str]:
    """Resolve ``from ..x import y`` against the current package name."""
    if not relative:
        return module
    parts = package.split(".") if package else []
    if relative - 1 > len(parts):
        return None
    base = parts[: len(parts) - (relative - 1)]
    if module:
        base.append(module)
    return ".".join(base) if base else None


class Model:
    """Everything rules know about one parsed module."""

    def __init__(self, tree: cst.Module, module_name: str = "", is_package: bool = False):
        self.tree = tree
        self.module_name = module_name  # "app.db"; "" when unknown
        # The package relative imports are resolved against.
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.scope_of_node: dict[cst.CSTNode, Scope] = {}  # scope-creating node -> Scope
        self.node_scope: dict[cst.CSTNode, Scope] = {}  # Call / Name / Return ... -> Scope
        self.root = Scope(tree, "module", None)
        self.scope_of_node[tree] = self.root
        _Builder(self).walk(tree, None)

    # -- navigation ---------------------------------------------------------------------
    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        node = self.parents.get(node)
        while node is not None:
            yield node
            node = self.parents.get(node)

    def scope(self, node: cst.CSTNode) -> Scope:
        """The scope a node is evaluated in."""
        found = self.node_scope.get(node)
        if found is not None:
            return found
        for ancestor in self.ancestors(node):
            found = self.node_scope.get(ancestor)
            if found is not None:
                return found
        return self.root

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The simple or compound statement that contains ``node``."""
        for candidate in [node, *self.ancestors(node)]:
            if isinstance(candidate, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
                return candidate
        return node

    def scopes(self) -> Iterator[Scope]:
        return self.root.walk()

    # -- names --------------------------------------------------------------------------
    def lookup(self, name: str, scope: Scope) -> list[Binding]:
        """The bindings ``name`` may refer to when loaded in ``scope`` (LEGB; class bodies
        are skipped from nested functions). Empty when it is a builtin or unknown."""
        current: Optional[Scope] = scope
        first = True
        while current is not None:
            # `global x` in the module itself is legal and a no-op: jumping there would loop.
            if name in current.globals and current is not self.root:
                current = self.root
                continue
            if current.kind != "class" or first:
                found = current.bindings.get(name)
                if found:
                    return found
            first = False
            current = current.parent
        return []

    def single_binding(self, name: str, scope: Scope) -> Optional[Binding]:
        """The one binding of ``name`` seen from ``scope``, or None when there are several
        (flow-insensitive analysis cannot tell which applies: stay silent)."""
        found = self.lookup(name, scope)
        real = [b for b in found if b.kind != "global"]
        return real[0] if len(real) == 1 else None

    def qualified_name(self, expr: cst.CSTNode, scope: Scope) -> Optional[str]:
        """The fully qualified name of ``expr`` when it is an imported name or an attribute
        of one (``sa.orm.sessionmaker`` -> ``sqlalchemy.orm.sessionmaker``), or a function
        or class defined at the top of this module (``app.db.get_session``)."""
        attrs = []
        while isinstance(expr, cst.Attribute):
            attrs.append(expr.attr.value)
            expr = expr.value
        if not isinstance(expr, cst.Name):
            return None
        binding = self.single_binding(expr.value, scope)
        if binding is None:
            return None
        if binding.kind == "import":
            base = binding.qualified
        elif binding.scope is self.root and binding.kind in ("def", "class", "assign", "annassign"):
            base = f"{self.module_name}.{expr.value}" if self.module_name else expr.value
        else:
            return None
        if base is None:
            return None
        return ".".join([base, *reversed(attrs)])


# Fields that only ever hold whitespace, comments or brackets: never walked.
_LAYOUT_FIELDS = re.compile(r"whitespace|lpar$|rpar$|leading_lines|lines_after_decorators|header$|footer$|"
                            r"trailing_whitespace|^comma$|^semicolon$")
# Token nodes that carry no meaning for any rule (punctuation, operators, layout).
_TOKEN_BASES: tuple[type, ...] = (
    cst.BaseParenthesizableWhitespace, cst.Comment, cst.Newline, cst.TrailingWhitespace, cst.EmptyLine,
    cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace,
    cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp,
    cst.Asynchronous, cst.ImportStar)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# class -> is it a node worth walking; a plain dict because isinstance on libcst's abstract
# base classes dominates a walk.
_WALKED: dict[type, bool] = {}
_COMPREHENSIONS = frozenset(c for c in vars(cst).values() if isinstance(c, type) and issubclass(c, cst.BaseComp))


def _is_walked(kind: type) -> bool:
    walked = _WALKED[kind] = issubclass(kind, cst.CSTNode) and not issubclass(kind, _TOKEN_BASES)
    return walked


def _child_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node class that can hold meaningful children, in the order libcst's
    own visitor walks them (source order). libcst's generic visitor rebuilds every node it
    passes (tens of times the cost of a parse); this walk only reads. The order is read off
    the string constants of the class's ``_visit_and_replace_children``, which names each
    field as it visits it."""
    found = _CHILD_FIELDS.get(kind)
    if found is None:
        names = {f.name for f in fields(kind)}
        code = kind._visit_and_replace_children.__code__  # type: ignore[attr-defined]
        ordered = [c for c in code.co_consts if isinstance(c, str) and c in names]
        found = tuple(dict.fromkeys(n for n in ordered if not _LAYOUT_FIELDS.search(n)))
        _CHILD_FIELDS[kind] = found
    return found


class _Builder:
    """The one traversal: parents, scopes, bindings and per-scope node lists."""

    def __init__(self, model: Model):
        self.model = model
        self.scopes: list[Scope] = [model.root]
        self.stores: set[cst.Name] = set()  # Name nodes that are binding targets, not loads
        self.skip_names: set[cst.Name] = set()  # names that are neither loads nor variables
        self.hooks = {kind: getattr(self, name) for kind, name in _HOOKS.items()}

    def walk(self, node: cst.CSTNode, parent: Optional[cst.CSTNode]) -> None:
        model = self.model
        entered: Optional[Scope] = None
        if parent is not None:
            model.parents[node] = parent
            # A def/class/lambda scope starts at its body: decorators, defaults and bases
            # belong to the enclosing scope.
            owner = model.scope_of_node.get(parent)
            if owner is not None and owner.kind != "module" and owner.kind != "comprehension" \
                    and node is getattr(parent, "body", None):
                entered = owner
                self.scopes.append(owner)
        kind = type(node)
        if kind is cst.FunctionDef or kind is cst.ClassDef or kind is cst.Lambda:
            self._open(node)  # type: ignore[arg-type]
        elif kind in _COMPREHENSIONS:
            self._open(node)  # type: ignore[arg-type]
            entered = model.scope_of_node[node]
            self.scopes.append(entered)
        hook = self.hooks.get(kind)
        if hook is None or hook(node) is not False:
            walk, walked = self.walk, _WALKED
            for name in _child_fields(kind):
                value = getattr(node, name)
                if type(value) is tuple or type(value) is list:
                    for child in value:
                        if walked.get(type(child)) or (type(child) not in walked and _is_walked(type(child))):
                            walk(child, node)
                elif walked.get(type(value)) or (type(value) not in walked and _is_walked(type(value))):
                    walk(value, node)
        if entered is not None:
            self.scopes.pop()

    def _open(self, node: ScopeNode) -> None:
        kind = {cst.FunctionDef: "function", cst.ClassDef: "class", cst.Lambda: "lambda"}.get(
            type(node), "comprehension")
        current = self.scopes[-1]
        scope = Scope(node, kind, current)
        current.children.append(scope)
        self.model.scope_of_node[node] = scope
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            current.bind(Binding(node.name.value, "def" if kind == "function" else "class", node, current))
            self.skip_names.add(node.name)
        if isinstance(node, (cst.FunctionDef, cst.Lambda)):
            params = node.params
            for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
                self._param(scope, param)
            for star in (params.star_arg, params.star_kwarg):
                if isinstance(star, cst.Param):
                    self._param(scope, star)

    def _param(self, scope: Scope, param: cst.Param) -> None:
        scope.bind(Binding(param.name.value, "param", param, scope))
        self.skip_names.add(param.name)

    @property
    def scope(self) -> Scope:
        return self.scopes[-1]

    def _store(self, target: cst.BaseExpression, kind: str, node: cst.CSTNode,
               value: Optional[cst.BaseExpression] = None, is_async: bool = False) -> None:
        names = list(_target_names(target))
        for name in names:
            self.stores.add(name)
            single = value if (len(names) == 1 and target is name) else None
            self.scope.bind(Binding(name.value, kind, node, self.scope, single, is_async=is_async))

    # -- bindings -------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._store(target.target, "assign", node, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._store(node.target, "annassign", node, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._store(node.target, "augassign", node)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._store(node.target, "assign", node, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._store(node.target, "for", node, is_async=node.asynchronous is not None)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._store(node.target, "for", node, is_async=node.asynchronous is not None)

    def visit_With(self, node: cst.With) -> None:
        self.scope.withs.append(node)
        self.model.node_scope[node] = self.scope
        for item in node.items:
            if item.asname is not None:
                self._store(item.asname.name, "with", item, item.item, is_async=node.asynchronous is not None)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._store(node.name.name, "except", node)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        if node.name is not None:
            self._store(node.name.name, "except", node)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self.scope.globals.add(item.name.value)
            self.skip_names.add(item.name)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for item in node.names:
            self.scope.nonlocals.add(item.name.value)
            self.skip_names.add(item.name)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self.model.parents[alias] = node
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.scope.bind(Binding(alias.asname.name.value, "import", alias, self.scope, qualified=full))
            else:  # ``import a.b`` binds ``a``
                top = full.split(".")[0]
                self.scope.bind(Binding(top, "import", alias, self.scope, qualified=top))
        return False  # the dotted names inside are not loads

    def visit_ImportFrom(self, node: cst.ImportFrom) -> Optional[bool]:
        base = absolute_module(self.model.package, len(node.relative), _import_base(node.module))
        if isinstance(node.names, cst.ImportStar):
            return False
        for alias in node.names:
            self.model.parents[alias] = node
            name = dotted_name(alias.name)
            if name is None:
                continue
            bound = alias.asname.name.value if (alias.asname and isinstance(alias.asname.name, cst.Name)) else name
            qualified = f"{base}.{name}" if base else None
            self.scope.bind(Binding(bound, "import", alias, self.scope, qualified=qualified))
        return False

    # -- per-scope node lists ---------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        self.scope.calls.append(node)
        self.model.node_scope[node] = self.scope

    def visit_Return(self, node: cst.Return) -> None:
        self.scope.returns.append(node)
        self.model.node_scope[node] = self.scope

    def visit_Yield(self, node: cst.Yield) -> None:
        self.scope.yields.append(node)
        self.model.node_scope[node] = self.scope

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.skip_names.add(node.attr)

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.skip_names.add(node.keyword)

    def visit_Name(self, node: cst.Name) -> None:
        if node in self.stores or node in self.skip_names:
            return
        self.scope.names.append(node)
        self.model.node_scope[node] = self.scope


# node class -> the _Builder method that records it (returns False: do not descend).
_HOOKS = {getattr(cst, name[len("visit_"):]): name for name in vars(_Builder) if name.startswith("visit_")}
