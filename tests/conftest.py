import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CASES = SHARED / "cases"
FIXTURES = ROOT / "fixtures"


def run_cli(*args, cwd=None, input=None, env=None):
    """Run the real console entry point in a subprocess: exit code, stdout, stderr."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "sqlalint", *map(str, args)], cwd=cwd, input=input,
                          capture_output=True, env=full_env, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


@pytest.fixture
def cli():
    return run_cli
