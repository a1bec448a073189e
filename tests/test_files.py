"""File discovery (.gitignore, default and configured excludes), decoding and atomic writes
that keep encoding, BOM, line endings and permissions."""
from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from privileges import unprivileged_cli
from sqlalint.config import DEFAULT_EXCLUDE, Settings
from sqlalint.files import SourceError, WriteError, decode, discover, read_source, write_atomic

LEGACY = "from sqlalchemy.ext.declarative import declarative_base\n"
FIXED = "from sqlalchemy.orm import declarative_base\n"


def listed(folder: Path, settings: Settings, *paths: str) -> list[str]:
    found = discover([str(folder / p) for p in (paths or ("",))], settings)
    return [p.relative_to(folder).as_posix() for p in found.files]


def tree(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LEGACY)


def in_a_repository(folder: Path, git: bool) -> None:
    """Make ``folder`` a git work tree when ``git``."""
    if git:
        if shutil.which("git") is None:
            pytest.skip("needs git")
        subprocess.run(["git", "init", "-q"], cwd=folder, check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gitignore_is_honoured_in_a_git_repository(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    tree(tmp_path, "app/a.py", "app/generated/b.py", "scratch.py", "app/c.pyi", "notes.txt", "sub/d.py")
    (tmp_path / ".gitignore").write_text("generated/\nscratch.py\n")
    (tmp_path / "sub" / ".gitignore").write_text("d.py\n")
    settings = Settings(root=tmp_path)
    assert listed(tmp_path, settings) == ["app/a.py", "app/c.pyi"]
    code, out, _ = run_cli("check", "--isolated", "--statistics", ".", cwd=tmp_path)
    assert out == "    2\tSLA502\t[*] legacy-declarative-import\n"


def test_without_git_every_python_file_is_found(tmp_path):
    tree(tmp_path, "app/a.py", "app/generated/b.py", "scratch.py")
    (tmp_path / ".gitignore").write_text("generated/\nscratch.py\n")
    env_free = Settings(root=tmp_path)
    # tmp_path is not inside a git work tree: .gitignore means nothing.
    assert listed(tmp_path, env_free) == ["app/a.py", "app/generated/b.py", "scratch.py"]


@pytest.mark.parametrize("git", [False, True])
def test_files_come_in_the_order_paths_sort(tmp_path, git):
    # By parts: ``a/b.py`` before ``a.py`` (as strings, "." sorts before "/").
    in_a_repository(tmp_path, git)
    tree(tmp_path, "a.py", "a_b.py", "a/b.py", "a/c/d.py", "B.py", "a-z.py")
    assert listed(tmp_path, Settings(root=tmp_path)) == ["B.py", "a/b.py", "a/c/d.py", "a-z.py", "a.py", "a_b.py"]


@pytest.mark.parametrize("git", [False, True])
def test_default_excludes(tmp_path, git):
    in_a_repository(tmp_path, git)
    names = [f"{folder}/m.py" for folder in DEFAULT_EXCLUDE if folder != ".git"]
    tree(tmp_path, "keep.py", "lib/python3.11/site-packages/pkg/x.py", *names)
    assert set(DEFAULT_EXCLUDE) >= {".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__",
                                    "site-packages", ".tox", ".nox"}
    assert listed(tmp_path, Settings(root=tmp_path)) == ["keep.py"]


def test_exclude_and_extend_exclude(tmp_path):
    tree(tmp_path, "app/a.py", "app/migrations/versions/1.py", "build/x.py", "app/gen_pb2.py")
    settings = Settings(root=tmp_path, extend_exclude=("migrations", "*_pb2.py"))
    assert listed(tmp_path, settings) == ["app/a.py"]
    # `exclude` replaces the defaults.
    settings = Settings(root=tmp_path, exclude=("app/migrations",))
    assert listed(tmp_path, settings) == ["app/a.py", "app/gen_pb2.py", "build/x.py"]


def test_exclude_from_pyproject_and_explicit_files(tmp_path):
    tree(tmp_path, "app/a.py", "legacy/old.py")
    (tmp_path / "pyproject.toml").write_text('[tool.sqlalint]\nextend-exclude = ["legacy"]\n')
    code, out, _ = run_cli("check", "--statistics", ".", cwd=tmp_path)
    assert out == "    1\tSLA502\t[*] legacy-declarative-import\n"
    # Named explicitly but excluded: still excluded (as ruff with force-exclude).
    assert run_cli("check", "legacy/old.py", cwd=tmp_path)[:2] == (0, "All checks passed!\n")
    # A file named explicitly is linted whatever its suffix.
    (tmp_path / "script").write_text(LEGACY)
    assert run_cli("check", "script", cwd=tmp_path)[0] == 1


def test_duplicates_are_linted_once(tmp_path):
    tree(tmp_path, "a.py")
    found = discover([str(tmp_path), str(tmp_path / "a.py"), str(tmp_path)], Settings(root=tmp_path))
    assert found.files == [tmp_path / "a.py"]


def test_missing_paths(tmp_path):
    found = discover([str(tmp_path / "nope.py")], Settings(root=tmp_path))
    assert found.files == [] and found.missing == [str(tmp_path / "nope.py")]


# -- decoding ------------------------------------------------------------------------------

def test_decode_keeps_bom_and_encoding():
    source = decode(b"\xef\xbb\xbfx = 1\r\n", Path("a.py"))
    assert (source.text, source.encoding, source.bom) == ("x = 1\r\n", "utf-8", True)
    assert source.encode(source.text) == b"\xef\xbb\xbfx = 1\r\n"
    latin = decode(b"# -*- coding: latin-1 -*-\nname = '\xe9'\n", Path("a.py"))
    assert latin.encoding == "iso-8859-1" and latin.text.endswith("name = '\xe9'\n")


@pytest.mark.parametrize("raw, message, line, column", [
    (b"x = 1\ny = '\xff'\n", "cannot decode as utf-8: byte 0xff is not valid (invalid start byte)", 2, 6),
    (b"x = 1\n\0\n", "contains a NUL byte: not a Python source file", 2, 1),
    (b"# coding: klingon\n", "cannot decode: unknown encoding: klingon", 1, 1),
])
def test_decode_errors(raw, message, line, column):
    with pytest.raises(SourceError) as info:
        decode(raw, Path("a.py"))
    assert str(info.value) == message
    assert (info.value.line, info.value.column) == (line, column)


def test_read_a_directory(tmp_path):
    with pytest.raises(SourceError, match="is a directory"):
        read_source(tmp_path)


# -- writing -------------------------------------------------------------------------------

def test_write_atomic_keeps_permissions_and_skips_unchanged(tmp_path):
    target = tmp_path / "a.py"
    target.write_text(LEGACY)
    target.chmod(0o751)
    source = read_source(target)
    assert write_atomic(source, LEGACY) is False
    assert write_atomic(source, FIXED) is True
    assert target.read_text() == FIXED
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # no temporary file left


def test_write_atomic_refuses_a_file_changed_on_disk(tmp_path):
    target = tmp_path / "a.py"
    target.write_text(LEGACY)
    source = read_source(target)
    target.write_text(LEGACY + "# edited meanwhile\n")
    with pytest.raises(WriteError, match="changed on disk"):
        write_atomic(source, FIXED)
    assert target.read_text() == LEGACY + "# edited meanwhile\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]


def test_write_atomic_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(LEGACY)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert write_atomic(read_source(link), FIXED)
    assert link.is_symlink() and real.read_text() == FIXED


def test_write_atomic_unencodable_text(tmp_path):
    target = tmp_path / "a.py"
    target.write_bytes(b"# coding: latin-1\nx = 1\n")
    with pytest.raises(WriteError, match="cannot be encoded as iso-8859-1"):
        write_atomic(read_source(target), "# coding: latin-1\nx = '\u20ac'\n")


@pytest.mark.parametrize("before, after", [
    # CRLF line endings.
    (LEGACY.replace("\n", "\r\n").encode() + b"Base = declarative_base()\r\n",
     FIXED.replace("\n", "\r\n").encode() + b"Base = declarative_base()\r\n"),
    # A UTF-8 BOM.
    (b"\xef\xbb\xbf" + LEGACY.encode(), b"\xef\xbb\xbf" + FIXED.encode()),
    # latin-1 with a coding cookie, a non-ASCII character kept as one byte.
    (b"# -*- coding: latin-1 -*-\n" + LEGACY.encode() + b"NAME = 'caf\xe9'\n",
     b"# -*- coding: latin-1 -*-\n" + FIXED.encode() + b"NAME = 'caf\xe9'\n"),
    # Mixed line endings stay as they were.
    (LEGACY.encode().replace(b"\n", b"\r\n") + b"x = 1\ny = 2\r\n",
     FIXED.encode().replace(b"\n", b"\r\n") + b"x = 1\ny = 2\r\n"),
])
def test_fix_keeps_bytes_around_the_edit(tmp_path, before, after):
    target = tmp_path / "models.py"
    target.write_bytes(before)
    target.chmod(0o640)
    untouched = tmp_path / "other.py"
    untouched.write_text("from sqlalchemy.orm import declarative_base\n")
    mtime = untouched.stat().st_mtime_ns
    code, out, err = run_cli("check", "--isolated", "--fix", ".", cwd=tmp_path)
    assert code == 0, (out, err)
    assert target.read_bytes() == after
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert untouched.stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".sqlalint-tmp")]


def test_fix_failure_to_write_is_reported(tmp_path, monkeypatch):
    """A file changed between read and write is not overwritten; the run says so and
    reports what the file on disk still holds."""
    from sqlalint import runner
    from sqlalint.runner import Mode, process_file

    target = tmp_path / "models.py"
    target.write_text(LEGACY)
    real_read = runner.read_source

    def read_then_edit(path):
        source = real_read(path)
        path.write_text(LEGACY + "# edited\n")
        return source

    monkeypatch.setattr(runner, "read_source", read_then_edit)
    report = process_file(target, Settings(root=tmp_path), Mode.FIX, False)
    assert report.messages == [f"{report.path}: changed on disk while sqlalint ran; not overwritten"]
    assert report.fixed == 0
    assert [d.code for d in report.diagnostics] == ["SLA502"]
    assert target.read_text() == LEGACY + "# edited\n"


def test_read_only_folder_is_reported_not_fatal(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "models.py").write_text(LEGACY)
    (tmp_path / "ok.py").write_text(LEGACY)
    folder.chmod(0o555)
    try:  # as root too: without the capability to override file permissions
        code, out, err = unprivileged_cli("check", "--isolated", "--fix", ".", cwd=tmp_path)
    finally:
        folder.chmod(0o755)
    assert code == 1, (out, err)
    assert "ro/models.py: cannot write: Permission denied" in err
    assert "Traceback" not in err
    assert (folder / "models.py").read_text() == LEGACY
    assert [p.name for p in folder.iterdir()] == ["models.py"]
    assert (tmp_path / "ok.py").read_text() == FIXED  # the run went on
