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


def test_each_result_is_stored_as_it_arrives(project, monkeypatch):
    # Not all at the end: with a pool, the main process stores while the workers lint.
    events: list[str] = []
    real_process, real_store = runner.process_file, ResultCache.store

    def process_file(path, *args, **kwargs):
        events.append(f"lint {path.name}")
        return real_process(path, *args, **kwargs)

    def store(self, token, entry, *args):
        events.append(f"store {token[0]}")
        return real_store(self, token, entry, *args)

    monkeypatch.setattr(runner, "process_file", process_file)
    monkeypatch.setattr(ResultCache, "store", store)
    settings = Settings(root=project)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert events == ["lint a.py", "store a.py", "lint b.py", "store b.py"]


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
    (project / "c.py").write_text(LEGACY + "x = 1\n")
    settings = Settings(root=project)
    cache = ResultCache(project / ".c", settings)
    run(_files(project), settings, jobs=1, cache=cache)
    entries = list((project / ".c" / "results").rglob("*.json"))
    assert len(entries) == 2  # a.py and c.py: b.py's bytes rule it out, it gets no entry
    old = time.time() - 40 * 86400
    os.utime(entries[0], (old, old))
    assert cache.prune() == 1
    assert cache.prune() == 0  # at most once a day
    assert sorted((project / ".c" / "results").rglob("*.json")) == sorted(entries[1:])


# -- the re-run fast path: content hashes by stat, one run file, the index's state -------

def _fill_and_count_reads(project, monkeypatch, settings):
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    reads: list[str] = []
    real = ResultCache.get

    def get(self, key):
        reads.append(key)
        return real(self, key)

    monkeypatch.setattr(ResultCache, "get", get)
    return reads


def test_a_rerun_reads_one_run_file_not_an_entry_per_file(project, monkeypatch):
    settings = Settings(root=project)
    reads = _fill_and_count_reads(project, monkeypatch, settings)
    seen = _counting(monkeypatch)
    warm = run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert seen == [] and reads == []
    assert [d.code for d in warm[0].diagnostics] == ["SLA502"] and warm[0].diagnostics[0].fix is not None
    # Without the run file, the per-file entries (keyed by content) still serve; a file its
    # bytes rule out has none (ruling it out again is cheaper than an entry).
    for state in (project / ".c" / "state").glob("run-*.json"):
        state.unlink()
    again = run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert seen == [project / "b.py"] and len(reads) == 2
    assert _summary(again) == _summary(warm)


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(project, monkeypatch):
    """A write in the same clock tick as the hashing leaves size and mtime as they were:
    files modified within seconds of being hashed are hashed again (git's racy check)."""
    settings = Settings(root=project)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    before = os.stat(project / "b.py")
    edited = CLEAN.replace("x = 1", "y = 2")
    assert len(edited) == len(CLEAN)
    (project / "b.py").write_text(edited)
    os.utime(project / "b.py", ns=(before.st_atime_ns, before.st_mtime_ns))
    seen = _counting(monkeypatch)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert [p.name for p in seen] == ["b.py"]


def test_an_old_file_is_not_read_when_its_stat_is_unchanged(project, monkeypatch):
    settings = Settings(root=project)
    old = time.time() - 3600
    for path in _files(project):
        os.utime(path, (old, old))
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    opened: list[str] = []
    real_open = open

    def spying_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spying_open)
    run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert not [name for name in opened if name.endswith("b.py")]  # a.py is read for its fix's text
    # An edit, even one that sets an old mtime back, changes the stat: the file is read.
    monkeypatch.setattr("builtins.open", real_open)
    (project / "b.py").write_text(LEGACY)
    os.utime(project / "b.py", (old, old))
    reports = run(_files(project), settings, jobs=1, cache=ResultCache(project / ".c", settings))
    assert [d.code for d in reports[1].diagnostics] == ["SLA502"]


def test_the_index_state_is_reused_until_a_file_changes(project, monkeypatch):
    from sqlalint.cache import LazyIndex
    from sqlalint.index import ProjectIndex

    (project / "db.py").write_text("from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n")
    settings = Settings(root=project)
    first = LazyIndex(settings, lambda: _files(project), project / ".c")
    fingerprint, triggers = first.fingerprint(), first.trigger_names()
    assert "SessionLocal" in triggers
    builds: list[int] = []
    real = ProjectIndex.build.__func__

    def build(cls, *args, **kwargs):
        builds.append(1)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(ProjectIndex, "build", classmethod(build))
    second = LazyIndex(settings, lambda: _files(project), project / ".c")
    assert (second.fingerprint(), second.trigger_names()) == (fingerprint, triggers)
    assert builds == []
    (project / "db.py").write_text("from sqlalchemy.orm import sessionmaker\n\nSessionMaker = sessionmaker()\n")
    third = LazyIndex(settings, lambda: _files(project), project / ".c")
    assert "SessionMaker" in third.trigger_names() and third.fingerprint() != fingerprint
    assert builds == [1]
    assert third.lookup("db.SessionMaker") is not None  # anything else: the built index


def test_a_cached_run_imports_neither_libcst_nor_the_rules_nor_the_index(project):
    command = [str(Path(sys.executable).parent / "sqlalint"), "check", "--isolated", "--cache-dir",
               str(project / ".c"), "."]
    cold = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert cold.returncode == 1 and "SLA502" in cold.stdout
    code = ("import sys; from sqlalint.cli import main; code = main(sys.argv[1:]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'libcst' "
            "or m in ('sqlalint.rules', 'sqlalint.index', 'sqlalint.engine'))); sys.exit(code)")
    warm = subprocess.run([sys.executable, "-c", code, *command[1:]], cwd=project, capture_output=True, text=True)
    assert warm.returncode == 1
    assert warm.stdout.splitlines()[-1] == "[]"
    assert warm.stdout.splitlines()[:-1] == cold.stdout.splitlines()
    # A changed file is linted again (and then the engine is imported).
    (project / "b.py").write_text(LEGACY)
    again = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert again.stdout.count("SLA502") == 2
