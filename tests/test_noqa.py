"""Suppression comments: ``# noqa: CODE``, bare ``# noqa``, ``# sqlalint: ignore[CODE]``, on
the reported line or on any line of the same logical line."""
from __future__ import annotations

import pytest

from conftest import run_cli
from sqlalint.config import Settings
from sqlalint.engine import lint_source
from sqlalint.suppress import Suppressions

CACHED = """\
import functools
from sqlalchemy.orm import Session

@functools.lru_cache(){comment}
def get_session() -> Session:
    return Session()
"""
SETTINGS = Settings(select=("SLA201",))


def found(source: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.column) for d in lint_source(source, "a.py", SETTINGS).diagnostics]


def test_reported_without_comment():
    assert found(CACHED.format(comment="")) == [("SLA201", 4, 1)]


@pytest.mark.parametrize("comment", [
    "  # noqa: SLA201",
    "  # noqa:SLA201",
    "  # NOQA: sla201",
    "  # noqa: E501, SLA201",
    "  # noqa: SLA2",
    "  # noqa",
    "  # sqlalint: ignore[SLA201]",
    "  # sqlalint: ignore[SLA502, SLA201]",
    "  # why we cache: tests only  # noqa: SLA201",
])
def test_suppressed(comment):
    assert found(CACHED.format(comment=comment)) == []


@pytest.mark.parametrize("comment", [
    "  # noqa: SLA502",
    "  # sqlalint: ignore[SLA502]",
    "  # noqa this is not a code list: SLA502",
])
def test_other_codes_do_not_suppress(comment):
    if "this is not" in comment:
        # flake8 reads `# noqa` followed by text as a bare noqa.
        assert found(CACHED.format(comment=comment)) == []
    else:
        assert found(CACHED.format(comment=comment)) == [("SLA201", 4, 1)]


def test_comment_on_another_line_of_the_logical_line():
    source = """\
import functools
from sqlalchemy.orm import Session

@functools.lru_cache(
    maxsize=None,  # sqlalint: ignore[SLA201]
)
def get_session() -> Session:
    return Session()

@functools.lru_cache(
    maxsize=None,
)  # noqa: SLA201
def other() -> Session:
    return Session()

@functools.lru_cache(
    maxsize=None,
)
def third() -> Session:  # noqa: SLA201 (a different logical line: does not count)
    return Session()
"""
    assert found(source) == [("SLA201", 16, 1)]


def test_comment_on_the_line_before_does_not_count():
    source = CACHED.format(comment="").replace("@functools", "# noqa: SLA201\n@functools")
    assert found(source) == [("SLA201", 5, 1)]


def test_noqa_inside_a_string_is_not_a_comment():
    source = CACHED.format(comment="").replace("return Session()", "return Session()  # real comment") \
        .replace("@functools.lru_cache()", "@functools.lru_cache(typed='# noqa')")
    assert found(source) == [("SLA201", 4, 1)]


def test_suppressions_survive_a_tokenize_error():
    # Unbalanced brackets make tokenize fail: comments still count on their own line.
    table = Suppressions("x = (  # noqa: SLA201\n")
    assert table.suppressed(1, "SLA201")
    assert not table.suppressed(1, "SLA502")


def test_noqa_through_the_cli(tmp_path):
    (tmp_path / "a.py").write_text(CACHED.format(comment="  # noqa: SLA201"))
    assert run_cli("check", "--isolated", "a.py", cwd=tmp_path)[:2] == (0, "All checks passed!\n")
