from __future__ import annotations

import re
from typing import Iterator, Optional

import libcst as cst

from sqlalint import sqla
from sqlalint.context import Context
from sqlalint.model import Binding, Scope
from sqlalint.rule import Applicability, Example, Fix, NodeChange, Report, Rule
from sqlalint.sqltext import (Built, Execution, bind_names, built_string, execution, has_comment, is_constant,
                              is_text_call, local_value, param_name, plain_string, string_literal)
from sqlalint.tree_edits import add_import, uses_of

# Where an unquoted interpolation is a value: after a comparison, LIKE, LIMIT/OFFSET...
_VALUE_BEFORE = re.compile(r"(?:<=|>=|<>|!=|=|<|>|\b(?:LIKE|ILIKE|LIMIT|OFFSET|BETWEEN|THEN|ELSE))\s*$",
                           re.IGNORECASE)
# ... or an item of a VALUES (...) list.
_IN_VALUES = re.compile(r"\bVALUES\s*\((?:[^()]*,)?\s*$", re.IGNORECASE)
_PARAMS_KEYWORDS = ("params", "parameters")


class SqlFromStrings(Rule):
    """
    ## What it does
    Checks for SQL text built from values with an f-string, `%`, `.format()` or `+` and
    passed to `text()`, or to `execute()` / `exec_driver_sql()` of a Session, Connection or
    Engine (inline, or through a local variable assigned in the same function).
    Interpolating only literals or module/class constants (`USERS_TABLE`) is not reported.

    ## Why is this bad?
    A value that contains a quote changes the statement: SQL injection. It also makes every
    distinct value a distinct statement, so the database cannot reuse its plan and
    SQLAlchemy's compiled cache fills with one-off entries under load. Bound parameters
    send values separately from the SQL text.

    ## Example
    ```python
    session.execute(text(f"SELECT * FROM users WHERE name = '{name}'"))
    ```

    ## Use instead
    ```python
    session.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name})
    ```

    ## Fix safety
    The fix turns each value into a bound parameter (`:name`, quotes around it removed) and
    passes the values in a parameters dict (added, or merged into an existing dict literal),
    wrapping the string in `text()` and adding its import when needed. For a `text()` that
    is not executed in the same expression it adds `.bindparams(name=value)`. It is unsafe:
    the database now receives typed values instead of text (`'5'` vs `5`), and a value that
    held SQL fragments on purpose stops working. When a value sits where SQL needs an
    identifier (a table or column name, after `FROM`, `ORDER BY`...) it cannot be bound:
    the fix is display-only and the identifier must be checked against an allow-list.
    `exec_driver_sql()` takes the driver's own parameter style: no fix is offered.

    ## Options
    None.
    """

    code = "SLA401"
    name = "sql-from-strings"
    summary = "SQL text built from values with f-strings, %, .format() or +"
    fixable = Applicability.UNSAFE

    valid = [
        Example("""\
from sqlalchemy import text
from sqlalchemy.orm import Session

TABLE = "users"

class Queries:
    COLUMNS = "id, name"
    threshold: float = 0.5

    @classmethod
    def tune(cls, session: Session):
        session.execute(text(f"SET similarity_threshold = {cls.threshold}"))

def run(session: Session, name, cursor):
    session.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name})
    session.execute(text(f"SELECT {Queries.COLUMNS} FROM {TABLE} WHERE x > {Queries.threshold} LIMIT {10}"))
    session.execute(text("SELECT 1 " + "FROM dual"))
    session.execute(text("CREATE TYPE nested AS (doc {0})".format("json" if name else "text")))
    cursor.execute(f"SELECT * FROM users WHERE name = '{name}'")
    message = f"hello {name}"
    print("%s items" % len(message))
"""),
    ]
    invalid = [
        Example("""\
from sqlalchemy import text
from sqlalchemy.orm import Session

def by_name(session: Session, name):
    return session.execute(text(f"SELECT * FROM users WHERE name = '{name}'")).all()  # error: 12
""", fixed="""\
from sqlalchemy import text
from sqlalchemy.orm import Session

def by_name(session: Session, name):
    return session.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name}).all()  # error: 12
"""),
        # The seed case: a .format() string straight to execute(): text() and its import are added.
        Example("""\
# Worker callbacks.
from random import randint
from sqlalchemy.orm import sessionmaker

Factory = sessionmaker()

def worker(user):
    with Factory() as session:
        session.execute("SELECT * FROM users WHERE users.id = {};".format(randint(1, 100)))  # error
        session.execute("UPDATE users SET seen = %s WHERE id = %d" % (user.seen, user.id))  # error
""", fixed="""\
# Worker callbacks.
from random import randint
from sqlalchemy.orm import sessionmaker
from sqlalchemy import text

Factory = sessionmaker()

def worker(user):
    with Factory() as session:
        session.execute(text("SELECT * FROM users WHERE users.id = :value;"), {"value": randint(1, 100)})  # error
        session.execute(text("UPDATE users SET seen = :seen WHERE id = :id"), {"seen": user.seen, "id": user.id})  # error
"""),
        # Through a local variable; merged into an existing parameters dict; text() kept apart.
        Example("""\
import sqlalchemy as sa

engine = sa.create_engine("sqlite://")

def by_email(email, city):
    sql = "SELECT * FROM users WHERE email = '" + email + "' AND city = :city"
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), {"city": city}).all()  # error

def query(kind):
    return sa.text(f"SELECT * FROM items WHERE kind = '{kind}'")  # error
""", fixed="""\
import sqlalchemy as sa

engine = sa.create_engine("sqlite://")

def by_email(email, city):
    sql = "SELECT * FROM users WHERE email = :email AND city = :city"
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), {"city": city, "email": email}).all()  # error

def query(kind):
    return sa.text("SELECT * FROM items WHERE kind = :kind").bindparams(kind=kind)  # error
"""),
        # Constants stay in the text.
        Example("""\
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

USERS = "users"

async def find(session: AsyncSession, name, limit):
    columns = "id, name"
    sql = f"SELECT {columns} FROM {USERS} WHERE name = '{name}' LIMIT {limit}"
    return (await session.execute(text(sql))).all()  # error
""", fixed="""\
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

USERS = "users"

async def find(session: AsyncSession, name, limit):
    columns = "id, name"
    sql = f"SELECT {columns} FROM {USERS} WHERE name = :name LIMIT :limit"
    return (await session.execute(text(sql), {"name": name, "limit": limit})).all()  # error
"""),
        # Identifiers cannot be bound (display-only); exec_driver_sql has no fix.
        Example("""\
from sqlalchemy import create_engine, text

engine = create_engine("sqlite://")

def rows(table, city):
    with engine.connect() as conn:
        conn.execute(text(f"SELECT * FROM {table}"))  # error
        conn.exec_driver_sql("SELECT * FROM users WHERE city = '{}'".format(city))  # error
"""),
    ]

    def check(self, ctx: Context) -> Iterator[Report]:
        executed: set[cst.Call] = set()  # text() calls reported through their execute()
        for scope in ctx.model.scopes():
            for call in scope.calls:
                found = execution(ctx, call, scope)
                if found is None:
                    continue
                statement = found.arg.value
                text_call = statement if is_text_call(ctx, statement, scope) else None
                if text_call is not None:
                    executed.add(text_call)
                    statement = text_call.args[0].value
                report = self._report(ctx, scope, statement, found, text_call)
                if report is not None:
                    yield report
        for scope in ctx.model.scopes():
            for call in scope.calls:
                if call not in executed and is_text_call(ctx, call, scope):
                    report = self._report(ctx, scope, call.args[0].value, None, call)
                    if report is not None:
                        yield report

    def _report(self, ctx: Context, scope: Scope, statement: cst.BaseExpression, found: Optional[Execution],
                text_call: Optional[cst.Call]) -> Optional[Report]:
        variable: Optional[Binding] = None
        local = local_value(ctx, statement, scope)
        if local is not None:
            variable, statement = local
            if is_text_call(ctx, statement, scope):
                return None  # ``stmt = text(...)``: reported at that text() call
        built = built_string(statement)
        if built is None:
            return None
        values = [v for v in built.values if not is_constant(ctx, v, scope)]
        if not values:
            return None
        codes = list(dict.fromkeys(ctx.code(v) for v in values))
        listed = ", ".join(f"`{c}`" for c in codes[:3]) + (", ..." if len(codes) > 3 else "")
        target = found.call if found is not None else text_call
        where = (f"passed to `{ctx.code(found.call.func)}()` ({ctx.evidence(found.receiver)})"
                 if found is not None and found.receiver.name else
                 f"passed to `{ctx.code(target.func)}()`")  # type: ignore[union-attr]
        advice = ("bind them as parameters (`text(\"... :name\")` with `{\"name\": value}`); a table or "
                  "column name cannot be bound: check it against an allow-list")
        if found is not None and found.method == "exec_driver_sql":
            advice = ("use `execute(text(\"... :name\"), {\"name\": value})`, or the driver's paramstyle with "
                      "a parameters argument")
        message = (f"SQL text built with {built.how} from {listed} and {where}: a quote in a value rewrites "
                   f"the statement (SQL injection) and every value makes a new statement to parse and cache; "
                   f"{advice}")
        fix = None
        if found is None or found.method == "execute":
            fix = _fix(ctx, scope, built, found, text_call, variable, statement)
        return Report(target, message, fix)  # type: ignore[arg-type]


def _fix(ctx: Context, scope: Scope, built: Built, found: Optional[Execution], text_call: Optional[cst.Call],
         variable: Optional[Binding], statement: cst.BaseExpression) -> Optional[Fix]:
    if not built.exact or has_comment(ctx.code(built.node)):
        return None
    existing = _existing_params(found)
    if existing is False:
        return None
    existing_keys: list[str] = existing[1] if existing else []  # type: ignore[index]
    rewritten = _rewrite(ctx, scope, built, set(existing_keys))
    if rewritten is None:
        return None
    pieces, params, all_values = rewritten
    sql = "".join(p if isinstance(p, str) else " CONSTANT " for p in pieces)
    already = [n for n in bind_names(sql) if n not in {name for name, _ in params}]
    if already and (text_call is None or not set(already) <= set(existing_keys)):
        return None  # ``:x`` in the text that only text() would read as a bind
    if variable is not None:
        statement_node = (found.arg.value if found is not None and text_call is None
                          else text_call.args[0].value)  # type: ignore[union-attr]
        if len(uses_of(ctx, variable)) != 1 or not _simple_assign(ctx, variable):
            return None
    literal = string_literal(pieces, built.quote, built.node)
    if literal is None:
        return None
    changes: list[NodeChange] = []
    if variable is not None:
        changes.append((built.node, literal))
        new_statement: cst.BaseExpression = statement_node
    else:
        new_statement = literal
    applicability = Applicability.UNSAFE if all_values else Applicability.DISPLAY_ONLY
    if found is None:  # a text() not executed here: .bindparams(name=value)
        first = text_call.args[0]  # type: ignore[union-attr]
        new_text = text_call.with_changes(args=[first.with_changes(value=new_statement)])  # type: ignore[union-attr]
        no_space = cst.SimpleWhitespace("")
        keywords = [cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(no_space, no_space))
                    for name, value in params]
        bound = cst.Call(cst.Attribute(new_text, cst.Name("bindparams")), args=_joined(keywords))
        changes.append((text_call, bound))  # type: ignore[arg-type]
        return Fix("Bind the values as parameters", applicability, changes)
    if found.arg.keyword is not None:
        return None  # ``statement=``: Session says params=, Connection parameters=
    if text_call is not None:
        new_arg_value: cst.BaseExpression = text_call.with_changes(
            args=[text_call.args[0].with_changes(value=new_statement)])
    else:
        imported = add_import(ctx, "sqlalchemy", "text", sqla.TEXT_CONSTRUCTORS, scope)
        if imported is None:
            return None
        name, import_change = imported
        if import_change is not None:
            changes.append(import_change)
        new_arg_value = cst.Call(cst.parse_expression(name), args=[cst.Arg(new_statement)])
    call = found.call
    args = list(call.args)
    position = args.index(found.arg)
    args[position] = found.arg.with_changes(value=new_arg_value)
    elements = [cst.DictElement(cst.SimpleString(f'"{name}"'), value) for name, value in params]
    if existing:
        index = existing[0]
        current = args[index].value
        merged = list(current.elements)  # type: ignore[attr-defined]
        if merged and merged[-1].comma is cst.MaybeSentinel.DEFAULT:
            merged[-1] = merged[-1].with_changes(comma=_COMMA)
        args[index] = args[index].with_changes(value=current.with_changes(elements=merged + _joined(elements)))
    else:
        comma = found.arg.comma
        args[position] = args[position].with_changes(comma=_COMMA)
        args.insert(position + 1, cst.Arg(cst.Dict(_joined(elements)), comma=comma))
    changes.append((call, call.with_changes(args=args)))
    return Fix("Bind the values as parameters", applicability, changes)


_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _joined(items: list) -> list:
    """Dict elements or call arguments separated by ``, `` (libcst leaves commas to us)."""
    return [item.with_changes(comma=_COMMA if i < len(items) - 1 else cst.MaybeSentinel.DEFAULT)
            for i, item in enumerate(items)]


def _existing_params(found: Optional[Execution]):
    """None: no parameters argument; (index, keys): a dict literal with string keys to merge
    into; False: parameters the fix cannot merge into reliably."""
    if found is None:
        return None
    call = found.call
    for index, arg in enumerate(call.args):
        if arg is found.arg:
            continue
        if arg.star:
            return False
        is_params = (arg.keyword is None and index == call.args.index(found.arg) + 1) or (
            arg.keyword is not None and arg.keyword.value in _PARAMS_KEYWORDS)
        if not is_params:
            continue
        if not isinstance(arg.value, cst.Dict):
            return False
        keys = []
        for element in arg.value.elements:
            key = plain_string(element.key) if isinstance(element, cst.DictElement) else None
            if key is None:
                return False
            keys.append(key)
        return index, keys
    return None


def _rewrite(ctx: Context, scope: Scope, built: Built, taken: set[str]):
    """(pieces of the new SQL: text or kept constant expressions, [(name, value)], every
    value in a value position) or None."""
    parts = list(built.parts)
    names: dict[str, str] = {}  # value code -> parameter name
    params: list[tuple[str, cst.BaseExpression]] = []
    all_values = True
    for i, part in enumerate(parts):
        if isinstance(part, str):
            continue
        if is_constant(ctx, part, scope):
            literal = plain_string(part)
            if literal is not None:
                parts[i] = literal
            elif isinstance(part, (cst.Integer, cst.Float)):
                parts[i] = part.value
            elif not isinstance(part, (cst.Name, cst.Attribute)):
                return None
            continue  # a constant stays in the text (``{USERS_TABLE}``)
        before = parts[i - 1] if i > 0 and isinstance(parts[i - 1], str) else ""
        after = parts[i + 1] if i + 1 < len(parts) and isinstance(parts[i + 1], str) else ""
        if i > 0 and not isinstance(parts[i - 1], str) or i + 1 < len(parts) and not isinstance(parts[i + 1], str):
            return None  # two values side by side: one SQL token built from both
        # The SQL before the value (earlier values as placeholders), for quotes and context.
        prefix = "".join(p if isinstance(p, str) else " :p " for p in parts[:i])
        quoted = before.endswith("'") and after.startswith("'")
        if quoted:
            before, after, prefix = before[:-1], after[1:], prefix[:-1]
        if prefix.count("'") % 2 or before.endswith('"') or after.startswith(("'", '"')):
            return None  # inside a longer quoted text ('%{x}%') or a quoted identifier
        if not quoted and not (_VALUE_BEFORE.search(prefix) or _IN_VALUES.search(prefix)):
            all_values = False  # an identifier or a fragment of SQL: cannot be bound
        if after[:1].isalnum() or after[:1] == "_":
            return None
        if i > 0:
            parts[i - 1] = before
        if i + 1 < len(parts):
            parts[i + 1] = after
        code = ctx.code(part)
        name = names.get(code)
        if name is None:
            base = param_name(ctx, part)
            name, n = base, 2
            while name in taken:
                name, n = f"{base}_{n}", n + 1
            taken.add(name)
            names[code] = name
            params.append((name, part))
        parts[i] = f":{name}"
    return _merge(parts), params, all_values


def _merge(parts: list) -> list:
    merged: list = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def _simple_assign(ctx: Context, binding: Binding) -> bool:
    node = binding.node
    return isinstance(node, cst.Assign) and len(node.targets) == 1
