"""--fix never loses data: a kill during a run, or two runs at once on one tree, leave every
file either original or fixed, and parseable; a file edited while sqlalint works on it keeps
the edit."""
from __future__ import annotations

import ctypes
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest

from conftest import run_cli
from sqlalint.engine import parses

LEGACY = "from sqlalchemy.ext.declarative import declarative_base\nBase = declarative_base()\n# {i}\n"
FIXED = "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n# {i}\n"
COUNT = 40


def make_tree(folder):
    for i in range(COUNT):
        (folder / f"m{i}.py").write_text(LEGACY.format(i=i))


def assert_original_or_fixed(folder):
    for i in range(COUNT):
        text = (folder / f"m{i}.py").read_text()
        assert text in (LEGACY.format(i=i), FIXED.format(i=i)), text
        assert parses(text)
    assert not [p for p in folder.iterdir() if p.name.endswith(".sqlalint-tmp")]


def command(folder):
    return subprocess.Popen([sys.executable, "-m", "sqlalint", "check", "--isolated", "--fix", "."],
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def test_kill_during_a_fix_run(tmp_path):
    for delay in (0.3, 0.6, 0.9):
        make_tree(tmp_path)
        proc = command(tmp_path)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # A killed run may leave a temporary file only if killed between write and rename;
        # the files themselves are always whole.
        for leftover in tmp_path.glob(".*.sqlalint-tmp"):
            leftover.unlink()
        assert_original_or_fixed(tmp_path)


def test_two_fix_runs_at_once(tmp_path):
    make_tree(tmp_path)
    first, second = command(tmp_path), command(tmp_path)
    assert first.wait(timeout=300) in (0, 1) and second.wait(timeout=300) in (0, 1)
    assert_original_or_fixed(tmp_path)
    # A third run finishes the job whatever the first two left.
    assert run_cli("check", "--isolated", "--fix", ".", cwd=tmp_path)[0] == 0
    for i in range(COUNT):
        assert (tmp_path / f"m{i}.py").read_text() == FIXED.format(i=i)


IN_CLOSE_NOWRITE = 0x10  # <sys/inotify.h>: a file opened for reading was closed


def watch_reads(path):
    """An inotify descriptor that reports each time a process finishes reading ``path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, os.fsencode(path), IN_CLOSE_NOWRITE) < 0:
        pytest.skip("inotify unavailable")
    return fd


def edit_after_each_read(path, fd, proc, edits: list[str]) -> None:
    """Append a line to ``path`` each time a read of it ends, until ``proc`` exits: whichever
    read sqlalint fixes from, the file changes right after it."""
    while proc.poll() is None and len(edits) < 20:
        if not select.select([fd], [], [], 0.05)[0]:
            continue
        data = os.read(fd, 4096)
        for offset in range(0, len(data) - 15, 16):  # struct inotify_event, no names here
            if struct.unpack_from("iIII", data, offset)[1] & IN_CLOSE_NOWRITE:
                edits.append(f"# edited {len(edits)}\n")
                with open(path, "a") as handle:
                    handle.write(edits[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")
def test_a_file_edited_between_read_and_write_is_not_overwritten(tmp_path):
    target = tmp_path / "models.py"
    # Big enough that analysing it takes far longer than the watcher takes to append.
    original = LEGACY.format(i=0) + "".join(
        f"\n\ndef get_{n}(session, value):\n    return session.query(Model).get(value)\n" for n in range(300))
    target.write_text(original)
    fd = watch_reads(target)
    proc = subprocess.Popen([sys.executable, "-m", "sqlalint", "check", "--isolated", "--fix", "models.py"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    edits: list[str] = []
    watcher = threading.Thread(target=edit_after_each_read, args=(target, fd, proc, edits))
    watcher.start()
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        watcher.join()
        os.close(fd)
    assert edits, "sqlalint never read the file"
    assert "models.py: changed on disk while sqlalint ran; not overwritten" in err.decode()
    assert proc.returncode == 1  # the finding remains
    # Every edit is there, and nothing of the fix.
    assert target.read_text() == original + "".join(edits)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".sqlalint-tmp")]
