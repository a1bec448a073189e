"""The result cache: hits, misses, invalidation, sharing between runs, pruning."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sqlalint import runner
from sqlalint.cache import ResultCache, settings_fingerprint
from sqlalint.config import Settings
from sqlalint.runner import Mode, run

LEGACY = "from sqlalchemy.ext.declarative import declarative_base\n\nBase = declarative_base()\n"
CLEAN = "import sqlalchemy\n\nx = 1\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(LEGACY)
    (tmp_path / "b.py").write_text(CLEAN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(root: Path) -> list[Path]:
    return sorted(root.glob("*.py"))


def _counting(monkeypatch) -> list[Path]:
    seen: list[Path] = []
    real = runner.process_file

    def process_file(path, *args, **kwargs):
        seen.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(runner, "process_file", process_file)
    return seen


def _summary(reports):
    return [(r.path, r.diagnostics, r.text is not None) for r in reports]


def test_second_run_is_served_from_the_cache_with_fixes_intact(project, monkeypatch):
    settings = Settings(root=project)
    cold = run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert [d.code for d in cold[0].diagnostics] == ["SLA502"] and cold[0].diagnostics[0].fix is not None
    seen = _counting(monkeypatch)
    warm = run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert seen == []
    assert _summary(warm) == _summary(cold)
    assert warm[0].text == LEGACY
    assert (project / ".c" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_content_change_invalidates_only_that_file(project, monkeypatch):
    settings = Settings(root=project)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    (project / "b.py").write_text(LEGACY)
    seen = _counting(monkeypatch)
    reports = run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert [p.name for p in seen] == ["b.py"]
    assert [d.code for d in reports[1].diagnostics] == ["SLA502"]


def test_settings_change_invalidates(project, monkeypatch):
    settings = Settings(root=project)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    ignoring = replace(settings, ignore=("SLA502",))
    seen = _counting(monkeypatch)
    reports = run(_files(project), ignoring, jobs=1, cache=ResultCache(project / ".c", ignoring))
    assert len(seen) == 2
    assert reports[0].diagnostics == []


def test_index_fingerprint_change_invalidates(project, monkeypatch):
    settings = Settings(root=project)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings, "one"))
    seen = _counting(monkeypatch)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings, "two"))
    assert len(seen) == 2


def test_fix_mode_is_never_cached(project, monkeypatch):
    settings = Settings(root=project)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    seen = _counting(monkeypatch)
    run(_files(project), settings, Mode.DIFF, jobs=1, cache=ResultCache(project / ".c", settings))
    assert len(seen) == 2


def test_settings_fingerprint_is_stable_across_processes(project):
    settings = Settings(root=project, session_factories=frozenset({"a.b", "c.d", "e.f"}))
    code = ("import sys; from pathlib import Path; from sqlalint.config import Settings; "
            "from sqlalint.cache import settings_fingerprint; "
            f"print(settings_fingerprint(Settings(root=Path({str(project)!r}), "
            "session_factories=frozenset({'e.f', 'a.b', 'c.d'}))))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout.strip()
        assert out == settings_fingerprint(settings)


def test_concurrent_runs_share_a_cache(project):
    for n in range(40):
        (project / f"m{n}.py").write_text(LEGACY if n % 3 == 0 else CLEAN)
    command = [str(Path(sys.executable).parent / "sqlalint"), "check", "--isolated", "--output-format", "json",
               "--cache-dir", str(project / "shared-cache"), "."]
    expected = subprocess.run([*command[:-3], "--no-cache", "."], cwd=project, capture_output=True, text=True)
    runs = [subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [r.communicate()[0] for r in runs]
    assert all(r.returncode == 1 for r in runs)
    assert outputs == [expected.stdout] * 3
    again = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert again.stdout == expected.stdout
    leftovers = [p for p in (project / "shared-cache").rglob(".tmp-*")]
    assert leftovers == []


def test_prune_drops_entries_unused_for_a_month(project):
    settings = Settings(root=project)
    cache = ResultCache(project / ".c", settings)
    run(_files(project), settings, jobs=1, cache=cache)
    entries = list((project / ".c" / "results").rglob("*.json"))
    assert len(entries) == 2
    old = time.time() - 40 * 86400
    os.utime(entries[0], (old, old))
    assert cache.prune() == 1
    assert cache.prune() == 0  # at most once a day
    assert sorted((project / ".c" / "results").rglob("*.json")) == sorted(entries[1:])
