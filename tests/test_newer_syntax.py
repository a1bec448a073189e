"""Syntax newer than the running Python: read by ``ast`` all the same (pruning, the index)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from sqlalint import newer_syntax, pruning
from sqlalint.config import Settings
from sqlalint.engine import lint_source
from sqlalint.index import Kind, project_index


@pytest.mark.parametrize("source, rewritten", [
    ("type Ids = list[int]\n", "_=   Ids = list[int]\n"),
    ("type Pair[T] = tuple[T, T]\n", "_=   Pair[T] = tuple[T, T]\n"),
    ("def first[T: (int, str)](items: list[T]) -> T:\n    return items[0]\n",
     "def first               (items: list[T]) -> T:\n    return items[0]\n"),
    ("class Box[T](Base):\n    pass\n", "class Box   (Base):\n    pass\n"),
    ("async def get[T]():\n    pass\n", "async def get   ():\n    pass\n"),
    ("try:\n    pass\nexcept KeyError, ValueError:\n    pass\n",
     "try:\n    pass\nexcept(KeyError,ValueError):\n    pass\n"),
    ("try:\n    pass\nexcept A,B :  # why\n    pass\n", "try:\n    pass\nexcept(A,B):  # why\n    pass\n"),
])
def test_newer_clauses_are_rewritten_in_place(source, rewritten):
    assert newer_syntax.older(source) == rewritten
    assert len(rewritten) == len(source)
    assert newer_syntax.parse(source).body[-1].lineno == ast.parse(rewritten).body[-1].lineno


@pytest.mark.parametrize("source, rewritten", [
    ("x = f'{', '.join(names)}'\n", 'x = f"{\', \'.join(names)}"\n'),
    ('x = f"{row["id"]}" "!"\n', "x = f'{row[\"id\"]}' \"!\"\n"),
    ("x = f'{width:{w}}' + rf'{', '}'\n", "x = f'{width:{w}}' + rf\"{', '}\"\n"),
])
def test_an_f_string_whose_fields_use_its_quote_is_requoted(source, rewritten):
    assert newer_syntax.older(source) == rewritten
    assert isinstance(newer_syntax.parse(source).body[0].value, (ast.JoinedStr, ast.BinOp))


@pytest.mark.parametrize("source", [
    "x = f'{\"a\"}'\n",  # valid on 3.11 already
    "x = f'{a}' 'b'\n",
    "x = f'{', \"'}'\n",  # the other quote is used too
    "# f'{', '}'\n",
    "x = f'{a # a comment (3.12)\n}'\n",
])
def test_f_strings_that_need_no_requoting_or_cannot_have_it_stay(source):
    assert newer_syntax.older(source) is None


def test_a_requoted_f_string_must_still_open_an_f_string_where_it_was():
    # After another string (implicit concatenation) the f-string does not start a JoinedStr.
    text = "x = 'a' f'{', '.join(b)}'\n"
    requoted = newer_syntax._requoted(text)
    assert requoted == "x = 'a' f\"{', '.join(b)}\"\n"
    assert not newer_syntax._fstrings_where_they_were(ast.parse(requoted), requoted, text)
    text = "x = f'{', '.join(b)}'\n"
    requoted = newer_syntax._requoted(text)
    assert newer_syntax._fstrings_where_they_were(ast.parse(requoted), requoted, text)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="valid syntax from Python 3.12 on")
def test_what_requoting_cannot_make_older_stays_a_syntax_error():
    with pytest.raises(SyntaxError):
        newer_syntax.parse("x = f'{'\\n'.join(a)}'\n")  # a backslash in a field
    with pytest.raises(SyntaxError):
        newer_syntax.parse("x = 'a' f'{', '.join(b)}'\n")


@pytest.mark.parametrize("source", [
    "type = 5\nx = type(3)\n",  # a name, not the statement
    "try:\n    pass\nexcept A,B:\n    pass\n",  # no space to give the parentheses
    "try:\n    pass\nexcept (A, B):\n    pass\n",
    "def f[\n    T,\n](): pass\n",  # type parameters over several lines
])
def test_what_it_does_not_know_stays_as_it_is(source):
    assert newer_syntax.older(source) is None


def test_a_syntax_error_is_still_one():
    with pytest.raises(SyntaxError):
        newer_syntax.parse("type X = \n")
    with pytest.raises(SyntaxError):
        newer_syntax.parse(b"def f(:\n")


MODULE = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

type Ids = list[int]


def make_engine[T](url: T):
    return create_engine(url)


def unrelated[T](items: list[T]) -> T:
    try:
        return items[0]
    except IndexError, KeyError:
        return None


SessionLocal = sessionmaker()
"""


def test_a_module_with_newer_syntax_is_pruned_and_keeps_its_findings():
    pruned = pruning.prune(MODULE, pruning.hot_pattern(["SLA101"]))
    assert pruned is not None and pruned.text != MODULE
    assert "def make_engine" in pruned.text and "def unrelated" not in pruned.text
    found = [(d.code, d.line, d.column) for d in lint_source(MODULE, "m.py", prune=True).diagnostics]
    assert found == [(d.code, d.line, d.column) for d in lint_source(MODULE, "m.py").diagnostics]
    assert found == [("SLA101", 8, 12)]


def test_a_module_with_newer_syntax_is_indexed(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "db.py").write_text(MODULE)
    index = project_index(Settings(root=tmp_path), no_cache=True)
    found = index.lookup("db.SessionLocal")
    assert found is not None and found.kind is Kind.SESSION_FACTORY and (found.path, found.line) == ("db.py", 18)
