"""Run the real CLI where file permissions apply, even when the tests run as root (as CI does).

Root reads and writes whatever the mode bits say because it holds CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH. ``setpriv`` (util-linux) drops both from the bounding set before it
starts sqlalint, so the kernel checks the mode bits for that process like for anyone else;
the interpreter and the venv under /root stay readable because root owns them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache

import pytest

DROP = "-dac_override,-dac_read_search"


@lru_cache(maxsize=None)
def _prefix() -> tuple[str, ...] | None:
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, f"--bounding-set={DROP}", f"--inh-caps={DROP}")
    # Does it work here (a container may forbid changing the bounding set), and can the
    # process then really not read a file of mode 000?
    with tempfile.TemporaryDirectory() as folder:
        secret = os.path.join(folder, "secret")
        with open(secret, "w") as handle:
            handle.write("x")
        os.chmod(secret, 0)
        probe = subprocess.run([*prefix, sys.executable, "-c", f"open({secret!r}).read()"],
                               capture_output=True)
    return prefix if b"PermissionError" in probe.stderr else None


def unprivileged_cli(*args, cwd) -> tuple[int, str, str]:
    """Run ``python -m sqlalint *args`` so that file permissions apply to it."""
    prefix = _prefix()
    if prefix is None:
        pytest.skip("no way to run without root's file-permission override (setpriv)")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run([*prefix, sys.executable, "-m", "sqlalint", *map(str, args)], cwd=cwd,
                          capture_output=True, env=env, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
