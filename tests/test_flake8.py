"""The flake8 plugin, through the real flake8 in a subprocess."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CASES, run_cli

FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<message>.*)$")

CACHED = """\
import functools

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@functools.lru_cache(maxsize=None){noqa}
def get_session():
    return SessionLocal()
"""


def flake8(*args: str, cwd: Path) -> tuple[int, list[dict]]:
    """Run the real flake8 (isolated from any flake8 configuration); its parsed findings."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    found = []
    for line in proc.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        assert match, line
        found.append({**match.groupdict(), "line": int(match["line"]), "col": int(match["col"])})
    return proc.returncode, found


def sqlalint(*args: str, cwd: Path) -> list[dict]:
    code, out, err = run_cli("check", "--output-format", "json", *args, cwd=cwd)
    assert code in (0, 1), err
    return json.loads(out)


def normal(path: str) -> str:
    return os.path.normpath(path)


def test_seed_case_reported_at_the_decorator(tmp_path):
    shutil.copy(CASES / "seed_002_lru_cache_session.py", tmp_path)
    code, found = flake8("--select", "SLA", "seed_002_lru_cache_session.py", cwd=tmp_path)
    assert code == 1
    (cached,) = [f for f in found if f["code"] == "SLA201"]
    assert (cached["path"], cached["line"], cached["col"]) == ("seed_002_lru_cache_session.py", 20, 1)
    assert cached["message"].startswith("`get_session` is cached by `functools.lru_cache`")


def by_file(findings: list[tuple[str, int, int, str]]) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for path, line, col, code in findings:
        grouped.setdefault(normal(path), []).append((line, col, code))
    return {path: sorted(items) for path, items in grouped.items()}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_same_findings_as_the_cli_on_every_case(jobs):
    files = sorted(str(p.relative_to(CASES)) for p in CASES.rglob("*.py"))
    assert len(files) > 10
    _, found = flake8("--select", "SLA", "-j", jobs, *files, cwd=CASES)
    ours = by_file([(f["path"], f["line"], f["col"], f["code"]) for f in found])
    cli = by_file([(d["filename"], d["location"]["row"], d["location"]["column"], d["code"])
                   for d in sqlalint(*files, cwd=CASES) if d["code"] != "SLA001"])
    assert ours == cli
    assert sum(len(v) for v in cli.values()) >= 5  # the comparison is not vacuous


def test_flake8_owns_noqa(tmp_path):
    (tmp_path / "app.py").write_text(CACHED.format(noqa="  # noqa: SLA201"))
    assert flake8("--select", "SLA", "app.py", cwd=tmp_path) == (0, [])
    # The plugin does not apply noqa itself: flake8's --disable-noqa brings the finding back.
    code, found = flake8("--select", "SLA", "--disable-noqa", "app.py", cwd=tmp_path)
    assert (code, [(f["line"], f["col"], f["code"]) for f in found]) == (1, [(8, 1, "SLA201")])


def test_sqlalint_ignore_comments_apply_under_flake8(tmp_path):
    (tmp_path / "app.py").write_text(CACHED.format(noqa="  # sqlalint: ignore[SLA201]"))
    assert flake8("--select", "SLA", "--disable-noqa", "app.py", cwd=tmp_path) == (0, [])
    (tmp_path / "app.py").write_text(CACHED.format(noqa="  # sqlalint: ignore[SLA101]"))
    _, found = flake8("--select", "SLA", "app.py", cwd=tmp_path)
    assert [(f["line"], f["code"]) for f in found] == [(8, "SLA201")]


def test_a_file_sqlalint_did_not_analyse_is_reported(tmp_path):
    # flake8 parsed it; sqlalint says why it did not look (here: over max-file-size).
    (tmp_path / "app.py").write_text(CACHED.format(noqa=""))
    (tmp_path / "pyproject.toml").write_text("[tool.sqlalint]\nmax-file-size = 100\n")
    _, found = flake8("--select", "SLA", "app.py", cwd=tmp_path)
    size = (tmp_path / "app.py").stat().st_size
    assert [(f["line"], f["col"], f["code"], f["message"]) for f in found] == [
        (1, 1, "SLA001", f"not analysed: {size:,} bytes is over max-file-size (100); "
                         "raise it in [tool.sqlalint] to analyse this file")]


def test_flake8_owns_selection(tmp_path):
    (tmp_path / "app.py").write_text(CACHED.format(noqa=""))
    # sqlalint's own ignore does not hide the finding from flake8; flake8's ignore does.
    (tmp_path / "pyproject.toml").write_text('[tool.sqlalint]\nignore = ["SLA201"]\n')
    assert flake8("--select", "SLA", "--extend-ignore", "SLA201", "app.py", cwd=tmp_path) == (0, [])
    _, found = flake8("--select", "SLA2", "app.py", cwd=tmp_path)
    assert [(f["line"], f["code"]) for f in found] == [(8, "SLA201")]


def test_reads_analysis_settings_from_pyproject(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cached.py").write_text(
        "import functools\n\nimport sqlalchemy\nfrom app.db import make_session\n\n\n"
        "@functools.lru_cache\ndef get_session():\n    return make_session()\n")
    assert flake8("--select", "SLA", "app/cached.py", cwd=tmp_path) == (0, [])
    (tmp_path / "pyproject.toml").write_text('[tool.sqlalint]\nsession-factories = ["app.db.make_session"]\n')
    _, found = flake8("--select", "SLA", "app/cached.py", cwd=tmp_path)
    assert [(f["line"], f["col"], f["code"]) for f in found] == [(7, 1, "SLA201")]
    assert "`make_session` is a session factory (configured)" in found[0]["message"]
    cli = sqlalint("app/cached.py", cwd=tmp_path)
    assert [(d["location"]["row"], d["location"]["column"], d["code"]) for d in cli] == [(7, 1, "SLA201")]


def test_syntax_errors_are_flake8s(tmp_path):
    (tmp_path / "broken.py").write_text("import sqlalchemy\nfrom functools import cache\ndef f(:\n")
    code, found = flake8("--select", "SLA,E999", "broken.py", cwd=tmp_path)
    assert code == 1
    assert [f["code"] for f in found] == ["E999"]


def test_never_fixes(tmp_path):
    source = "from sqlalchemy.ext.declarative import declarative_base\n\nBase = declarative_base()\n"
    (tmp_path / "models.py").write_text(source)
    _, found = flake8("--select", "SLA", "models.py", cwd=tmp_path)
    assert [(f["line"], f["col"], f["code"]) for f in found] == [(1, 1, "SLA502")]
    assert (tmp_path / "models.py").read_text() == source
