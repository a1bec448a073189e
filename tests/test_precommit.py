"""The pre-commit hooks, through the real pre-commit installing this repository at HEAD.

pre-commit clones the repository at the given rev and pip-installs it into its own
environment (from PyPI for the dependencies): slow, so done once for the module.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

CLEAN = "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n"
CACHED = """\
import functools

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@functools.lru_cache(maxsize=None)
def get_session():
    return SessionLocal()
"""
LEGACY = "from sqlalchemy.ext.declarative import declarative_base\n\nBase = declarative_base()\n"
FIXED = "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


class Repo:
    def __init__(self, path: Path, env: dict[str, str]):
        self.path = path
        self.env = env

    def run(self, hook: str, *files: str) -> subprocess.CompletedProcess:
        git("add", *files, cwd=self.path)
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", hook, "--files", *files],
                              cwd=self.path, capture_output=True, text=True, env=self.env, timeout=900)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    head = git("rev-parse", "HEAD", cwd=ROOT)
    if "sqlalint-fix" not in git("show", f"{head}:.pre-commit-hooks.yaml", cwd=ROOT):
        pytest.fail(".pre-commit-hooks.yaml is not committed at HEAD")
    path = tmp_path_factory.mktemp("precommit-repo")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("precommit-home")),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.pop("NO_COLOR", None)
    git("init", "-q", cwd=path)
    (path / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {head}\n  hooks:\n  - id: sqlalint\n  - id: sqlalint-fix\n")
    git("add", ".pre-commit-config.yaml", cwd=path)
    repo = Repo(path, env)
    # Install both hook environments once (the slow part), on a file neither hook touches.
    (path / "README.txt").write_text("hello\n")
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=path,
                               capture_output=True, text=True, env=env, timeout=900)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return repo


def test_check_hook_fails_on_a_finding(repo):
    (repo.path / "bad.py").write_text(CACHED)
    result = repo.run("sqlalint", "bad.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad.py:8:1: SLA201 `get_session` is cached by `functools.lru_cache`" in result.stdout
    assert (repo.path / "bad.py").read_text() == CACHED


def test_check_hook_passes_on_a_clean_file(repo):
    (repo.path / "clean.py").write_text(CLEAN)
    result = repo.run("sqlalint", "clean.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_fix_hook_rewrites_then_passes(repo):
    (repo.path / "models.py").write_text(LEGACY)
    first = repo.run("sqlalint-fix", "models.py")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    assert (repo.path / "models.py").read_text() == FIXED
    second = repo.run("sqlalint-fix", "models.py")
    assert second.returncode == 0, second.stdout + second.stderr
    assert (repo.path / "models.py").read_text() == FIXED


def test_fix_hook_leaves_unsafe_fixes_alone(repo):
    (repo.path / "cached.py").write_text(CACHED)
    result = repo.run("sqlalint-fix", "cached.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SLA201" in result.stdout
    assert (repo.path / "cached.py").read_text() == CACHED
