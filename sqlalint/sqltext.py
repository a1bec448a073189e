"""SQL text in Python source: plain strings, strings built from values, and where they run.

Shared by SLA401 (sql-from-strings) and SLA402 (string-execute): which calls execute SQL on
a SQLAlchemy receiver, what their statement argument is (through ``text()`` and a local
variable), how a string was built (f-string, ``%``, ``.format()``, ``+``), whether the
interpolated values are constants, and which ``:name`` tokens ``text()`` reads as binds.
"""
from __future__ import annotations

import ast
import io
import keyword
import re
import string
import tokenize
from dataclasses import dataclass
from typing import Optional, Union

import libcst as cst

from sqlalint import sqla
from sqlalint.infer import Kind, Value
from sqlalint.model import Binding, Scope

# Receivers whose ``execute`` takes SQLAlchemy statements (a DBAPI cursor takes strings).
RECEIVER_KINDS = (Kind.SESSION, Kind.CONNECTION, Kind.ENGINE, Kind.SCOPED_REGISTRY)
EXECUTE_METHODS = ("execute", "exec_driver_sql")

# What text() reads as a bind parameter (sqlalchemy.sql.elements.TextClause._bind_params_regex):
# not after a colon, a word character or a backslash, and not followed by a colon (``::int``).
TEXT_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)", re.UNICODE)
_CONSTANT_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")

Part = Union[str, cst.BaseExpression]  # literal text (already unescaped) or an interpolated value


@dataclass(frozen=True)
class Built:
    """A string expression assembled from literal text and values."""

    node: cst.BaseExpression  # the whole string expression
    how: str  # "an f-string", "`%`", "`.format()`", "`+`"
    parts: tuple[Part, ...]
    exact: bool  # the parts are exactly the runtime text (no format specs, conversions...)
    quote: str  # the quote of its first literal, for the rewritten literal

    @property
    def values(self) -> list[cst.BaseExpression]:
        return [p for p in self.parts if not isinstance(p, str)]


@dataclass(frozen=True)
class Execution:
    """``receiver.execute(statement, ...)`` on a SQLAlchemy Session, Connection or Engine."""

    call: cst.Call
    method: str  # "execute" or "exec_driver_sql"
    receiver: Value
    arg: cst.Arg  # the statement argument


def bind_names(sql: str) -> list[str]:
    """The ``:name`` tokens ``text(sql)`` would read as bind parameters."""
    return TEXT_BIND.findall(sql)


def plain_string(expr: cst.CSTNode) -> Optional[str]:
    """The value of a str literal with no interpolation (``"a"``, ``"a" "b"``)."""
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        try:
            value = expr.evaluated_value
        except Exception:  # an f-string inside a concatenation
            return None
        return value if isinstance(value, str) else None
    return None


def execution(ctx, call: cst.Call, scope: Scope) -> Optional[Execution]:
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in EXECUTE_METHODS:
        return None
    arg = statement_arg(call)
    if arg is None:
        return None
    receiver = ctx.infer(func.value, scope)
    if receiver is None or receiver.kind not in RECEIVER_KINDS:
        return None
    return Execution(call, func.attr.value, receiver, arg)


def statement_arg(call: cst.Call) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "statement":
            return arg
    first = call.args[0] if call.args else None
    return first if first is not None and first.keyword is None and not first.star else None


def is_text_call(ctx, expr: cst.CSTNode, scope: Scope) -> bool:
    return (isinstance(expr, cst.Call) and bool(expr.args) and expr.args[0].keyword is None
            and not expr.args[0].star and ctx.qualified_name(expr.func, scope) in sqla.TEXT_CONSTRUCTORS)


def local_value(ctx, expr: cst.CSTNode, scope: Scope) -> Optional[tuple[Binding, cst.BaseExpression]]:
    """The value of a name assigned exactly once in ``scope`` itself (the same function)."""
    if not isinstance(expr, cst.Name):
        return None
    binding = ctx.model.single_binding(expr.value, scope)
    if binding is None or binding.scope is not scope or binding.kind != "assign" or binding.value is None:
        return None
    return binding, binding.value


def module_string(ctx, expr: cst.CSTNode, scope: Scope) -> Optional[str]:
    """A plain string, or a name bound once (here or at module level) to one."""
    value = plain_string(expr)
    if value is not None or not isinstance(expr, cst.Name):
        return value
    binding = ctx.model.single_binding(expr.value, scope)
    if binding is None or binding.kind != "assign" or binding.value is None:
        return None
    if binding.scope is not scope and binding.scope is not ctx.model.root:
        return None
    return plain_string(binding.value)


# -- strings built from values -----------------------------------------------------------

def built_string(expr: cst.CSTNode) -> Optional[Built]:
    """How ``expr`` builds a string from values, or None when it is not such a string."""
    if isinstance(expr, cst.FormattedString):
        return _fstring([expr], expr)
    if isinstance(expr, cst.ConcatenatedString) and plain_string(expr) is None:
        strings = _concatenated(expr)
        if strings is not None:
            return _fstring(strings, expr)
        return None
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Modulo):
        template = plain_string(expr.left)
        if template is not None and "%" in template:
            return _percent(expr, template)
        return None
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "format":
        template = plain_string(expr.func.value)
        if template is not None and "{" in template:
            return _format(expr, template)
        return None
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        return _concat(expr)
    return None


def _quote_of(node: cst.CSTNode) -> str:
    if isinstance(node, cst.SimpleString):
        return node.quote
    if isinstance(node, cst.FormattedString):
        return node.quote
    if isinstance(node, cst.ConcatenatedString):
        return _quote_of(node.left)
    return '"'


def _concatenated(expr: cst.ConcatenatedString) -> Optional[list]:
    out = []
    for side in (expr.left, expr.right):
        if isinstance(side, cst.ConcatenatedString):
            inner = _concatenated(side)
            if inner is None:
                return None
            out.extend(inner)
        elif isinstance(side, (cst.SimpleString, cst.FormattedString)):
            out.append(side)
        else:
            return None
    return out


def _fstring(strings: list, node: cst.BaseExpression) -> Optional[Built]:
    parts: list[Part] = []
    exact = True
    for item in strings:
        if isinstance(item, cst.SimpleString):
            value = plain_string(item)
            if value is None:
                return None
            parts.append(value)
            continue
        prefix = item.prefix.lower().replace("f", "")
        if "b" in prefix:
            return None
        for piece in item.parts:
            if isinstance(piece, cst.FormattedStringText):
                text = _unescape(piece.value.replace("{{", "{").replace("}}", "}"), prefix, item.quote)
                if text is None:
                    exact = False
                    text = piece.value
                parts.append(text)
            else:
                if piece.conversion is not None or piece.format_spec or piece.equal is not None:
                    exact = False
                parts.append(piece.expression)
    return Built(node, "an f-string", _merge(parts), exact, _quote_of(node))


def _unescape(raw: str, prefix: str, quote: str) -> Optional[str]:
    try:  # the space keeps a piece that ends with a quote (``= '{x}'``) from closing the literal
        value = ast.literal_eval(f"{prefix}{quote}{raw} {quote}")
    except (SyntaxError, ValueError):
        return None
    return value[:-1] if isinstance(value, str) else None


_PERCENT = re.compile(r"%(?:\((\w+)\))?([-#0 +]*\d*(?:\.\d+)?)([a-zA-Z%])")


def _percent(expr: cst.BinaryOperation, template: str) -> Built:
    right = expr.right
    positional: list[cst.BaseExpression] = []
    named: dict[str, cst.BaseExpression] = {}
    if isinstance(right, cst.Tuple):
        if any(isinstance(e, cst.StarredElement) for e in right.elements):
            return _opaque(expr, "`%`", template, right)
        positional = [e.value for e in right.elements]
    elif isinstance(right, cst.Dict):
        for element in right.elements:
            key = plain_string(element.key) if isinstance(element, cst.DictElement) else None
            if key is None:
                return _opaque(expr, "`%`", template, right)
            named[key] = element.value
    else:
        positional = [right]
    parts: list[Part] = []
    exact = True
    position = 0
    last = 0
    for match in _PERCENT.finditer(template):
        parts.append(template[last:match.start()])
        last = match.end()
        name, flags, conversion = match.groups()
        if conversion == "%":
            parts.append("%")
            continue
        if flags or conversion not in "sdifu":
            exact = False
        if name is not None:
            value = named.get(name)
        else:
            value = positional[position] if position < len(positional) else None
            position += 1
        if value is None:
            return _opaque(expr, "`%`", template, right)
        parts.append(value)
    parts.append(template[last:])
    if position != len(positional) and not named:
        return _opaque(expr, "`%`", template, right)
    return Built(expr, "`%`", _merge(parts), exact, _quote_of(expr.left))


def _format(expr: cst.Call, template: str) -> Built:
    positional = []
    named = {}
    for arg in expr.args:
        if arg.star:
            return _opaque(expr, "`.format()`", template, *[a.value for a in expr.args])
        if arg.keyword is not None:
            named[arg.keyword.value] = arg.value
        else:
            positional.append(arg.value)
    parts: list[Part] = []
    exact = True
    auto = 0
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return _opaque(expr, "`.format()`", template, *[a.value for a in expr.args])
    for literal, field, spec, conversion in fields:
        parts.append(literal)
        if field is None:
            continue
        if spec or conversion:
            exact = False
        if field == "":
            value = positional[auto] if auto < len(positional) else None
            auto += 1
        elif field.isdigit():
            index = int(field)
            value = positional[index] if index < len(positional) else None
        else:
            value = named.get(field)
        if value is None:  # ``{user.name}``, ``{0[1]}``, or a missing argument
            return _opaque(expr, "`.format()`", template, *[a.value for a in expr.args])
        parts.append(value)
    return Built(expr, "`.format()`", _merge(parts), exact, _quote_of(expr.func.value))  # type: ignore[attr-defined]


def _concat(expr: cst.BinaryOperation) -> Optional[Built]:
    leaves: list[cst.BaseExpression] = []
    _flatten_add(expr, leaves)
    parts: list[Part] = []
    exact = True
    has_literal = False
    quote = None
    for leaf in leaves:
        value = plain_string(leaf)
        if value is not None:
            has_literal = True
            quote = quote or _quote_of(leaf)
            parts.append(value)
            continue
        inner = built_string(leaf)
        if inner is not None:
            has_literal = True
            quote = quote or inner.quote
            exact = exact and inner.exact
            parts.extend(inner.parts)
            continue
        parts.append(leaf)
    if not has_literal:
        return None  # ``a + b``: not known to be a string at all
    return Built(expr, "`+`", _merge(parts), exact, quote or '"')


def _flatten_add(expr: cst.BaseExpression, out: list) -> None:
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        _flatten_add(expr.left, out)  # string + is associative: parentheses do not matter
        _flatten_add(expr.right, out)
    else:
        out.append(expr)


def _opaque(expr, how: str, template: str, *values) -> Built:
    """A build whose values cannot be matched to the text: reported, never fixed."""
    return Built(expr, how, (template, *values), False, '"')


def _merge(parts: list) -> tuple:
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif not (isinstance(part, str) and part == ""):
            merged.append(part)
    return tuple(merged)


# -- constants ---------------------------------------------------------------------------

def is_constant(ctx, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
    """A literal, or a module/class constant (bound once to a constant, or named in CAPS), or a
    choice between two of those."""
    if depth > 5:
        return False
    if isinstance(expr, (cst.Integer, cst.Float)) or plain_string(expr) is not None:
        return True
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.expression, (cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.Name):
        if expr.value in ("True", "False", "None") or _CONSTANT_NAME.match(expr.value):
            return True
        binding = ctx.model.single_binding(expr.value, scope)
        if binding is None or binding.kind not in ("assign", "annassign") or binding.value is None:
            return False
        if binding.scope.kind not in ("module", "class"):  # a local bound once to a literal
            return plain_string(binding.value) is not None or isinstance(binding.value, (cst.Integer, cst.Float))
        return is_constant(ctx, binding.value, binding.scope, depth + 1)
    if isinstance(expr, cst.Attribute):
        if _CONSTANT_NAME.match(expr.attr.value) or expr.attr.value == "__tablename__":
            return True
        owner = expr.value
        if isinstance(owner, cst.Name):
            binding = ctx.model.single_binding(owner.value, scope)
            if binding is not None and binding.kind == "param" and owner.value == "cls":
                return True  # a class attribute read in a classmethod: the class's setting
            if binding is not None and binding.kind == "class":
                attr = ctx.model.scope_of_node[binding.node].bindings.get(expr.attr.value, [])
                return len(attr) == 1 and attr[0].kind in ("assign", "annassign") and attr[0].value is not None \
                    and is_constant(ctx, attr[0].value, attr[0].scope, depth + 1)
        return False
    if isinstance(expr, cst.IfExp):  # one of two constants: ``"json" if native else "text"``
        return is_constant(ctx, expr.body, scope, depth + 1) and is_constant(ctx, expr.orelse, scope, depth + 1)
    built = built_string(expr)
    if built is not None:
        return all(is_constant(ctx, v, scope, depth + 1) for v in built.values)
    return False


# -- rewriting ---------------------------------------------------------------------------

def string_literal(pieces: list, quote: str, like: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """A literal for text pieces and kept expressions (``{TABLE}``): a plain literal in
    ``quote`` when it can be written so (else repr()), an f-string when expressions are kept
    (None when that cannot be written plainly)."""
    def plain(value: str) -> bool:
        return "\\" not in value and quote not in value and (len(quote) == 3 or not re.search(r"[\r\n]", value))

    parens = {"lpar": getattr(like, "lpar", []), "rpar": getattr(like, "rpar", [])}
    if all(isinstance(p, str) for p in pieces):
        value = "".join(pieces)
        text = f"{quote}{value}{quote}" if plain(value) and not value.endswith(quote[0]) else repr(value)
        return cst.SimpleString(text, **parens)
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece.replace("{", "{{").replace("}", "}}"))
        else:
            out.append("{" + cst.Module([]).code_for_node(piece) + "}")
    body = "".join(out)
    if not plain(body) or body.endswith(quote[0]) or any(
            not isinstance(p, str) and re.search(r"['\"\\\n]", cst.Module([]).code_for_node(p)) for p in pieces):
        return None
    return cst.parse_expression(f"f{quote}{body}{quote}").with_changes(**parens)


def has_comment(code: str) -> bool:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(f"({code})").readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return True
    return any(t.type == tokenize.COMMENT for t in tokens)


def param_name(ctx, expr: cst.BaseExpression) -> str:
    """A bind-parameter name that says what the value is: ``user_id`` for ``user.id``."""
    if isinstance(expr, cst.Call) and len(expr.args) == 1 and isinstance(expr.func, cst.Name) \
            and expr.func.value in ("str", "int", "float"):
        return param_name(ctx, expr.args[0].value)
    if isinstance(expr, cst.Name):
        name = expr.value
    elif isinstance(expr, cst.Attribute):
        name = expr.attr.value
    elif isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
        name = plain_string(expr.slice[0].slice.value) or "value"
    else:
        name = "value"
    name = re.sub(r"\W", "_", name).strip("_").lower() or "value"
    if not name.isidentifier() or keyword.iskeyword(name) or name[0].isdigit():
        name = f"{name}_value" if name.isidentifier() else "value"
    return name
