"""The real CLI, in subprocesses, on copies of files in a temporary folder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import CASES, run_cli
from privileges import unprivileged_cli

SEED = CASES / "seed_002_lru_cache_session.py"
SEED_LINE = "@functools.lru_cache(maxsize=None)  # expect: SLA201\n"

LEGACY = "from sqlalchemy.ext.declarative import declarative_base\nBase = declarative_base()\n"
LEGACY_FIXED = "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n"

BROKEN = """\
from sqlalchemy.orm import Session
import functools

@functools.lru_cache()
def get_session( -> Session:
    pass
"""


@pytest.fixture
def seed(tmp_path):
    target = tmp_path / "app.py"
    shutil.copyfile(SEED, target)
    return target


def test_check_reports_sla201_at_the_decorator(seed):
    code, out, err = run_cli("check", "--isolated", "--select", "SLA201", "app.py", cwd=seed.parent)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith("app.py:20:1: SLA201 `get_session` is cached by `functools.lru_cache`")
    assert lines[1:] == ["Found 1 error.", "1 hidden fixes can be enabled with the `--unsafe-fixes` option."]
    assert "\x1b[" not in out  # no colour when not a terminal


def test_check_without_select_reports_sla201_line_20(seed):
    code, out, _ = run_cli("check", "--isolated", "--output-format", "json", "app.py", cwd=seed.parent)
    assert code == 1
    found = [(d["code"], d["location"]["row"], d["location"]["column"]) for d in json.loads(out)]
    assert ("SLA201", 20, 1) in found


def test_fix_alone_leaves_an_unsafe_fix_unapplied(seed):
    before = seed.read_bytes()
    mtime = seed.stat().st_mtime_ns
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201", "--fix", "app.py", cwd=seed.parent)
    assert code == 1
    assert "app.py:20:1: SLA201" in out
    assert seed.read_bytes() == before
    assert seed.stat().st_mtime_ns == mtime


def test_unsafe_fix_removes_the_decorator_only_and_is_stable(seed):
    original = seed.read_text()
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201", "--fix", "--unsafe-fixes", "app.py",
                           cwd=seed.parent)
    assert code == 0
    assert out == "Found 1 error (1 fixed, 0 remaining).\n"
    assert seed.read_text() == original.replace(SEED_LINE, "# expect: SLA201\n")
    fixed = seed.read_bytes()
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201", "--fix", "--unsafe-fixes", "app.py",
                           cwd=seed.parent)
    assert (code, out) == (0, "All checks passed!\n")
    assert seed.read_bytes() == fixed


def test_diff_shows_the_change_and_writes_nothing(seed):
    before = seed.read_bytes()
    code, out, err = run_cli("check", "--isolated", "--select", "SLA201", "--diff", "--unsafe-fixes", "app.py",
                             cwd=seed.parent)
    assert code == 1
    assert out == ("--- a/app.py\n+++ b/app.py\n@@ -17,7 +17,7 @@\n     return sessionfactory\n \n \n"
                   "-@functools.lru_cache(maxsize=None)  # expect: SLA201\n+# expect: SLA201\n"
                   " def get_session() -> Session:\n     return _get_sessionmaker()()\n \n")
    assert "Would fix 1 error in 1 file." in err
    assert seed.read_bytes() == before


def test_diff_without_unsafe_fixes_has_nothing_to_show(seed):
    code, out, err = run_cli("check", "--isolated", "--select", "SLA201", "--diff", "app.py", cwd=seed.parent)
    assert (code, out) == (0, "")
    assert "No fixes available." in err


def test_syntax_error_is_reported_and_the_other_file_still_linted(seed):
    (seed.parent / "broken.py").write_text(BROKEN)
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201", ".", cwd=seed.parent)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("app.py:20:1: SLA201 ")
    # Python's own line and column: the `->` where a parameter was expected.
    assert lines[1] == "broken.py:5:18: SLA001 syntax error: invalid syntax"
    assert lines[2] == "Found 2 errors."


def test_missing_path_exits_2(seed):
    code, out, err = run_cli("check", "--isolated", "app.py", "nope.py", cwd=seed.parent)
    assert code == 2
    assert "sqlalint: error: nope.py: no such file or directory" in err
    assert "Traceback" not in err


def test_safe_fix_is_applied_by_fix(tmp_path):
    target = tmp_path / "models.py"
    target.write_text(LEGACY)
    code, out, _ = run_cli("check", "--isolated", "--fix", "models.py", cwd=tmp_path)
    assert (code, out) == (0, "Found 1 error (1 fixed, 0 remaining).\n")
    assert target.read_text() == LEGACY_FIXED


def test_fixable_mark_and_summary(tmp_path):
    (tmp_path / "models.py").write_text(LEGACY)
    code, out, _ = run_cli("check", "--isolated", "models.py", cwd=tmp_path)
    assert code == 1
    assert out.splitlines() == [
        "models.py:1:1: SLA502 " + out.splitlines()[0].split(" SLA502 ", 1)[1],
        "Found 1 error.",
        "[*] 1 fixable with the `--fix` option.",
    ]
    assert out.splitlines()[0].endswith(" [*]")


def test_clean_file_exits_0(tmp_path):
    (tmp_path / "ok.py").write_text("from sqlalchemy.orm import declarative_base\n")
    assert run_cli("check", "--isolated", "ok.py", cwd=tmp_path)[:2] == (0, "All checks passed!\n")


def test_exit_zero_and_quiet(seed):
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201", "--exit-zero", "-q", "app.py",
                           cwd=seed.parent)
    assert code == 0
    assert len(out.splitlines()) == 1 and out.startswith("app.py:20:1: SLA201 ")


def test_json_output_has_ruffs_keys(seed):
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201", "--output-format", "json", "app.py",
                           cwd=seed.parent)
    assert code == 1
    [item] = json.loads(out)
    assert set(item) == {"code", "message", "filename", "location", "end_location", "fix", "url", "noqa_row"}
    assert item["code"] == "SLA201"
    assert item["filename"] == "app.py"
    assert item["location"] == {"row": 20, "column": 1}
    assert item["end_location"] == {"row": 20, "column": 35}
    assert item["noqa_row"] == 20
    assert item["url"].endswith("#sla201")
    fix = item["fix"]
    assert fix["applicability"] == "unsafe"
    assert isinstance(fix["message"], str) and fix["message"]
    [edit] = fix["edits"]
    assert set(edit) == {"content", "location", "end_location"}
    # Applying the edit by rows and columns gives the fixed file.
    lines = (seed.parent / "app.py").read_text().splitlines(keepends=True)
    start, end = edit["location"], edit["end_location"]
    head = "".join(lines[:start["row"] - 1]) + lines[start["row"] - 1][:start["column"] - 1]
    tail = lines[end["row"] - 1][end["column"] - 1:] + "".join(lines[end["row"]:])
    assert head + edit["content"] + tail == SEED.read_text().replace(SEED_LINE, "# expect: SLA201\n")


def test_json_fix_null_and_safe(tmp_path):
    (tmp_path / "models.py").write_text(LEGACY)
    (tmp_path / "broken.py").write_text(BROKEN)
    code, out, _ = run_cli("check", "--isolated", "--output-format", "json", ".", cwd=tmp_path)
    assert code == 1
    items = {d["code"]: d for d in json.loads(out)}
    assert items["SLA001"]["fix"] is None
    assert items["SLA001"]["location"] == {"row": 5, "column": 18}
    assert items["SLA502"]["fix"]["applicability"] == "safe"
    assert items["SLA502"]["fix"]["edits"] == [
        {"content": "orm", "location": {"row": 1, "column": 17}, "end_location": {"row": 1, "column": 32}}]


def test_json_empty_is_an_empty_array(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert run_cli("check", "--isolated", "--output-format", "json", ".", cwd=tmp_path)[:2] == (0, "[]\n")


def test_statistics(seed):
    (seed.parent / "models.py").write_text(LEGACY)
    (seed.parent / "broken.py").write_text(BROKEN)
    code, out, _ = run_cli("check", "--isolated", "--select", "SLA201,SLA502", "--statistics", ".",
                           cwd=seed.parent)
    assert code == 1
    assert out.splitlines() == ["    1\tSLA001\t    parse-error", "    1\tSLA201\t    cached-session",
                                "    1\tSLA502\t[*] legacy-declarative-import"]


def test_stdin_check_and_fix(tmp_path):
    code, out, _ = run_cli("check", "--isolated", "-", input=LEGACY.encode(), cwd=tmp_path)
    assert code == 1
    assert out.startswith("<stdin>:1:1: SLA502 ")
    code, out, err = run_cli("check", "--isolated", "--fix", "-", input=LEGACY.encode(), cwd=tmp_path)
    assert code == 0
    assert out == LEGACY_FIXED
    assert "1 fixed" in err
    code, out, _ = run_cli("check", "--isolated", "--stdin-filename", "pkg/models.py", "-",
                           input=LEGACY.encode(), cwd=tmp_path)
    assert out.startswith("pkg/models.py:1:1: SLA502 ")


def test_stdin_fix_keeps_bytes_when_nothing_to_fix(tmp_path):
    data = b"\xef\xbb\xbfimport os\r\nx = 1\r\n"
    code, out, _ = run_cli("check", "--isolated", "--fix", "-", input=data, cwd=tmp_path)
    assert code == 0
    assert out.encode() == data.decode("utf-8").encode()


def test_rules_lists_every_rule():
    code, out, _ = run_cli("rules")
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("SLA201  cached-session") and "fix: unsafe" in line for line in lines)
    assert any(line.startswith("SLA502  legacy-declarative-import") and "fix: safe" in line for line in lines)
    code, out, _ = run_cli("rules", "--output-format", "json")
    codes = {r["code"]: r for r in json.loads(out)}
    assert codes["SLA201"]["fix"] == "unsafe" and codes["SLA201"]["name"] == "cached-session"


def test_explain():
    code, out, _ = run_cli("explain", "SLA201")
    assert code == 0
    assert out.startswith("# cached-session (SLA201)\n\nFix: unsafe\n\n## What it does")
    assert run_cli("explain", "sla502")[0] == 0
    assert run_cli("explain", "cached-session")[1].startswith("# cached-session (SLA201)")


def test_explain_unknown_code_exits_2():
    code, out, err = run_cli("explain", "SLA999")
    assert code == 2
    assert "unknown rule 'SLA999'" in err
    assert "Traceback" not in err


def test_unknown_select_code_on_command_line_exits_2(tmp_path):
    code, _, err = run_cli("check", "--isolated", "--select", "XYZ1", ".", cwd=tmp_path)
    assert code == 2
    assert "--select: unknown rule code or prefix 'XYZ1'" in err
    assert "Traceback" not in err


def test_undecodable_file_is_a_finding_in_every_format(tmp_path):
    (tmp_path / "bad.py").write_bytes(b"import sqlalchemy\nx = '\xff\xfe'\n")
    (tmp_path / "models.py").write_text(LEGACY)
    code, out, _ = run_cli("check", "--isolated", ".", cwd=tmp_path)
    assert code == 1
    assert out.splitlines()[0] == ("bad.py:2:6: SLA001 cannot decode as utf-8: byte 0xff is not valid "
                                   "(invalid start byte)")
    assert out.splitlines()[1].startswith("models.py:1:1: SLA502 ")
    code, out, _ = run_cli("check", "--isolated", "--output-format", "json", ".", cwd=tmp_path)
    assert code == 1
    first = json.loads(out)[0]
    assert (first["code"], first["filename"], first["location"]) == ("SLA001", "bad.py", {"row": 2, "column": 6})
    code, out, _ = run_cli("check", "--isolated", "--statistics", ".", cwd=tmp_path)
    assert "SLA001" in out and code == 1


@pytest.mark.skipif(os.name != "posix", reason="mode bits")
def test_unreadable_file_is_a_finding(tmp_path):
    target = tmp_path / "secret.py"
    target.write_text(LEGACY)
    target.chmod(0)
    try:
        code, out, _ = unprivileged_cli("check", "--isolated", ".", cwd=tmp_path)
    finally:
        target.chmod(0o644)
    assert code == 1
    assert out.splitlines()[0] == "secret.py:1:1: SLA001 cannot read: Permission denied"


def test_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("sqlalint, version ")


# -- discovery: one pass, set lookups and regexes equal to the fnmatch definition ----------

def test_exclusion_matches_its_fnmatch_definition():
    import fnmatch
    import random
    from pathlib import Path

    from sqlalint.config import DEFAULT_EXCLUDE, Settings, _glob_match

    def by_definition(settings, relative):
        parts = Path(relative).parts
        return any(_glob_match(relative, p) or any(fnmatch.fnmatchcase(part, p) for part in parts)
                   for p in (*settings.exclude, *settings.extend_exclude))

    names = ["a", "build", "tests", "fixtures", "x.py", "gen_1.py", "migrations", "xzy", "ac", "d", ".venv"]
    rng = random.Random(7)
    for exclude in (DEFAULT_EXCLUDE, ("tests/fixtures", "build/", "*.pyi", "gen_*", "a/d/", "x?y", "[ab]c/d"), ()):
        settings = Settings(exclude=exclude, extend_exclude=("lib/vendor",))
        for _ in range(3000):
            relative = "/".join(rng.choice(names) for _ in range(rng.randint(1, 4)))
            relative = rng.choice(["", "", "/", "lib/vendor/", "./"]) + relative
            assert settings.is_excluded_relative(relative) == by_definition(settings, relative), relative


def test_git_discovery_excludes_and_skips_folders_and_deleted_files(tmp_path):
    import subprocess

    for name in ("app/a.py", "app/build/b.py", "gen/c.py", "vendor.py/d.py", "gone.py", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(LEGACY)
    (tmp_path / "pyproject.toml").write_text("[tool.sqlalint]\nextend-exclude = ['gen']\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    (tmp_path / "gone.py").unlink()
    code, out, _ = run_cli("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert code == 1
    assert sorted(d["filename"] for d in json.loads(out)) == ["app/a.py", "vendor.py/d.py"]


def test_files_that_cannot_match_are_skipped_without_importing_libcst(tmp_path):
    # A pre-commit run over files that cannot hold a finding: one never names SQLAlchemy,
    # the other makes its engine at module level (the prefilter rules it out).
    (tmp_path / "plain.py").write_text("import json\n\nprint(json.dumps({}))\n")
    (tmp_path / "db.py").write_text("from sqlalchemy import create_engine\n\nengine = create_engine(URL)\n")
    code = ("import sys; from sqlalint.cli import main; code = main(sys.argv[1:]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'libcst' "
            "or m in ('sqlalint.rules', 'sqlalint.engine'))); sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, "check", "--isolated", "--no-cache", "plain.py", "db.py"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["All checks passed!", "[]"]
