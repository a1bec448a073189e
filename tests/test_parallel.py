"""A pooled run gives the same reports, in the same order, as a serial one."""
from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from sqlalint import runner
from sqlalint.config import Settings
from sqlalint.runner import run

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/cases is not beside the checkout")
def test_pool_equals_serial(tmp_path, monkeypatch):
    for n in range(2):
        shutil.copytree(CASES, tmp_path / f"copy{n}")
    (tmp_path / "copy0" / "broken.py").write_text("import sqlalchemy\nengine = (\n")
    files = sorted(tmp_path.rglob("*.py"))
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path)
    monkeypatch.setattr(runner, "POOL_MIN_FILES", 4)
    serial = run(files, settings, jobs=1)
    pooled = run(files, settings, jobs=2)
    assert [r.path for r in pooled] == [r.path for r in serial]
    assert [(r.diagnostics, r.errors, r.text) for r in pooled] == [(r.diagnostics, r.errors, r.text) for r in serial]
    assert any(r.diagnostics for r in serial)


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/cases is not beside the checkout")
def test_a_lazy_index_is_built_once_before_the_pool_forks(tmp_path, monkeypatch):
    from sqlalint.cache import LazyIndex

    shutil.copytree(CASES, tmp_path / "cases")
    files = sorted(tmp_path.rglob("*.py"))
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path)
    monkeypatch.setattr(runner, "POOL_MIN_FILES", 4)
    index = LazyIndex(settings, lambda: files)
    # What the workers inherit is frozen: their collector does not walk the index (nor
    # the engine) again and again. (gc.get_objects() leaves out what is frozen.)
    seen = {}
    in_pool = runner._in_pool

    def spy(files, settings, mode, unsafe, built, *rest):
        seen["tracked"] = any(o is built for o in gc.get_objects())
        return in_pool(files, settings, mode, unsafe, built, *rest)

    monkeypatch.setattr(runner, "_in_pool", spy)
    try:
        pooled = run(files, settings, jobs=2, index=index)
    finally:
        gc.unfreeze()
    assert index._index is not None  # built here, in the parent: the workers inherit it
    assert seen == {"tracked": False}
    serial = run(files, settings, jobs=1, index=LazyIndex(settings, lambda: files))
    assert [(r.path, r.diagnostics) for r in pooled] == [(r.path, r.diagnostics) for r in serial]


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/cases is not beside the checkout")
def test_the_engine_is_imported_while_the_index_pool_parses(tmp_path, monkeypatch):
    # Also when the index is built for the result cache's keys, before the run.
    import sqlalint.index as index_module
    from sqlalint.cache import LazyIndex

    shutil.copytree(CASES, tmp_path / "cases")
    files = sorted(tmp_path.rglob("*.py"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(index_module, "POOL_MIN_SUMMARIES", 1)
    monkeypatch.setattr(runner, "POOL_MIN_FILES", 4)
    calls = []
    monkeypatch.setattr(runner, "_import_engine", lambda: calls.append("engine"))
    settings = Settings(root=tmp_path)
    for count, jobs, expected in ((len(files), 2, ["engine"]), (len(files), 1, []), (1, 2, [])):
        calls.clear()
        index = LazyIndex(settings, lambda: files, tmp_path / f"cache{count}-{jobs}")
        runner.import_engine_meanwhile(index, count, jobs)
        index.fingerprint()
        assert calls == expected, (count, jobs)


def test_a_worker_runs_without_the_cyclic_collector_until_enough_is_left_over(tmp_path, monkeypatch):
    module = tmp_path / "app.py"
    module.write_text("from sqlalchemy import create_engine\n\ndef get():\n    return create_engine('sqlite://')\n")
    monkeypatch.chdir(tmp_path)
    was_enabled = gc.isenabled()
    monkeypatch.setattr(runner, "GARBAGE_LIMIT", 1_000)
    try:
        runner._pool_init(Settings(root=tmp_path), runner.Mode.CHECK, False, None)
        assert not gc.isenabled()

        def leave_garbage(count: int) -> None:
            for _ in range(count):
                cycle: list = []
                cycle.append(cycle)

        runner._pool_work(module)  # imports the engine
        gc.collect()
        leave_garbage(100)
        left = gc.get_count()[0]
        report = runner._pool_work(module)
        assert [d.code for d in report.diagnostics] == ["SLA101"]
        assert gc.get_count()[0] >= left  # under the limit: nothing collected
        leave_garbage(2_000)
        runner._pool_work(module)
        assert gc.get_count()[0] < 1_000  # over it: collected once
    finally:
        if was_enabled:
            gc.enable()
