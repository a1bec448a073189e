"""Configuration: [tool.sqlalint] in the nearest pyproject.toml, --config, --isolated, and
errors that name the file and the key (exit 2, never a traceback)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from sqlalint.config import ConfigError, Settings, load_settings, settings_from_file

CACHED = """\
import functools
from sqlalchemy.orm import Session

@functools.lru_cache()
def get_session() -> Session:
    return Session()
"""
LEGACY = "from sqlalchemy.ext.declarative import declarative_base\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "db.py").write_text(CACHED)
    (tmp_path / "pkg" / "models.py").write_text(LEGACY)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_db.py").write_text(CACHED)
    return tmp_path


def codes(out: str) -> list[str]:
    """``path:code`` of every finding in text output."""
    return [f"{line.split(':')[0]}:{line.split(' ')[1]}" for line in out.splitlines() if ": SLA" in line]


def pyproject(folder: Path, body: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n\n[tool.sqlalint]\n" + body)
    return path


def test_defaults_select_everything(project):
    code, out, _ = run_cli("check", ".", cwd=project)
    assert code == 1
    assert codes(out) == ["pkg/db.py:SLA201", "pkg/models.py:SLA502", "tests/test_db.py:SLA201"]


def test_select_and_ignore_from_pyproject(project):
    pyproject(project, 'select = ["SLA2"]\n')
    assert codes(run_cli("check", ".", cwd=project)[1]) == ["pkg/db.py:SLA201", "tests/test_db.py:SLA201"]
    pyproject(project, 'ignore = ["SLA201"]\n')
    assert codes(run_cli("check", ".", cwd=project)[1]) == ["pkg/models.py:SLA502"]
    pyproject(project, 'select = ["SLA201"]\nextend-select = ["SLA502"]\n')
    assert codes(run_cli("check", ".", cwd=project)[1]) == [
        "pkg/db.py:SLA201", "pkg/models.py:SLA502", "tests/test_db.py:SLA201"]


def test_nearest_pyproject_wins_from_a_subfolder(project):
    pyproject(project, 'select = ["SLA502"]\n')
    pyproject(project / "pkg", 'select = ["SLA201"]\n')
    assert codes(run_cli("check", "pkg", cwd=project)[1]) == ["pkg/db.py:SLA201"]
    assert codes(run_cli("check", ".", cwd=project)[1]) == ["pkg/models.py:SLA502"]


def test_pyproject_without_sqlalint_table_is_skipped(project):
    (project / "pkg" / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    pyproject(project, 'select = ["SLA502"]\n')
    assert codes(run_cli("check", "pkg", cwd=project)[1]) == ["pkg/models.py:SLA502"]


def test_per_file_ignores(project):
    pyproject(project, 'per-file-ignores = { "tests/*" = ["SLA201"], "models.py" = ["SLA5"] }\n')
    assert codes(run_cli("check", ".", cwd=project)[1]) == ["pkg/db.py:SLA201"]


def test_command_line_overrides(project):
    pyproject(project, 'select = ["SLA502"]\n')
    assert codes(run_cli("check", "--select", "SLA201", ".", cwd=project)[1]) == [
        "pkg/db.py:SLA201", "tests/test_db.py:SLA201"]
    assert codes(run_cli("check", "--extend-select", "SLA201", "--ignore", "SLA502", "pkg", cwd=project)[1]) == [
        "pkg/db.py:SLA201"]


def test_config_file_option_and_isolated(project):
    pyproject(project, 'select = ["SLA502"]\n')
    other = project / "sqlalint.toml"
    other.write_text('select = ["SLA201"]\nexclude = ["tests"]\n')
    assert codes(run_cli("check", "--config", other, ".", cwd=project)[1]) == ["pkg/db.py:SLA201"]
    nested = project / "nested.toml"
    nested.write_text('[tool.sqlalint]\nignore = ["SLA201"]\n')
    assert codes(run_cli("check", "--config", nested, ".", cwd=project)[1]) == ["pkg/models.py:SLA502"]
    assert codes(run_cli("check", "--isolated", ".", cwd=project)[1]) == [
        "pkg/db.py:SLA201", "pkg/models.py:SLA502", "tests/test_db.py:SLA201"]


def test_isolated_ignores_a_broken_pyproject(project):
    (project / "pyproject.toml").write_text("[tool.sqlalint\n")
    assert run_cli("check", "--isolated", ".", cwd=project)[0] == 1


def test_unsafe_fixes_from_config(project):
    pyproject(project, 'select = ["SLA201"]\nunsafe-fixes = true\n')
    code, out, _ = run_cli("check", "--fix", "pkg/db.py", cwd=project)
    assert code == 0
    assert "@functools.lru_cache()" not in (project / "pkg" / "db.py").read_text()
    assert run_cli("check", "--no-unsafe-fixes", "--fix", "tests", cwd=project)[0] == 1


@pytest.mark.parametrize("body, message", [
    ('selct = ["SLA201"]\n', "tool.sqlalint.selct: unknown key"),
    ('select = "SLA201"\n', "tool.sqlalint.select: expected a list of strings"),
    ('select = ["SLA999"]\n', "tool.sqlalint.select: unknown rule code or prefix 'SLA999'"),
    ('ignore = [1]\n', "tool.sqlalint.ignore: expected a list of strings"),
    ('per-file-ignores = ["x"]\n', "tool.sqlalint.per-file-ignores: expected a table of glob = [codes]"),
    ('per-file-ignores = { "a/*" = ["NOPE1"] }\n',
     "tool.sqlalint.per-file-ignores.a/*: unknown rule code or prefix 'NOPE1'"),
    ('unsafe-fixes = "yes"\n', "tool.sqlalint.unsafe-fixes: expected true or false"),
    ('large-table-rows = -1\n', "tool.sqlalint.large-table-rows: expected a non-negative integer"),
    ('large-table-rows = true\n', "tool.sqlalint.large-table-rows: expected a non-negative integer"),
    ('max-file-size = "1MB"\n', "tool.sqlalint.max-file-size: expected a non-negative integer"),
    ('exclude = "build"\n', "tool.sqlalint.exclude: expected a list of strings"),
    ('session-factories = [1]\n', "tool.sqlalint.session-factories: expected a list of strings"),
    ('table-sizes = 3\n', "tool.sqlalint.table-sizes: expected a path to a JSON file"),
    ('table-sizes = "missing.json"\n', "tool.sqlalint.table-sizes: cannot read"),
])
def test_bad_configuration_exits_2_naming_file_and_key(project, body, message):
    path = pyproject(project, body)
    code, out, err = run_cli("check", ".", cwd=project)
    assert code == 2, (out, err)
    assert err.startswith(f"sqlalint: error: {path}: {message}")
    assert "Traceback" not in err
    assert out == ""


def test_malformed_toml_exits_2(project):
    path = project / "pyproject.toml"
    path.write_text("[tool.sqlalint]\nselect = [\n")
    code, _, err = run_cli("check", ".", cwd=project)
    assert code == 2
    assert err.startswith(f"sqlalint: error: {path}: cannot read: ")
    assert "Traceback" not in err


def test_tool_sqlalint_not_a_table_exits_2(project):
    path = project / "pyproject.toml"
    path.write_text("[tool]\nsqlalint = 3\n")
    code, _, err = run_cli("check", ".", cwd=project)
    assert code == 2
    assert err.startswith(f"sqlalint: error: {path}: tool.sqlalint must be a table")


def test_missing_config_file_exits_2(project):
    code, _, err = run_cli("check", "--config", "nope.toml", ".", cwd=project)
    assert code == 2
    assert err.startswith("sqlalint: error: nope.toml: cannot read: ")
    assert "Traceback" not in err


def test_invalid_toml_in_config_file_exits_2(project):
    (project / "bad.toml").write_text("select = [\n")
    code, _, err = run_cli("check", "--config", "bad.toml", ".", cwd=project)
    assert code == 2
    assert err.startswith("sqlalint: error: bad.toml: invalid TOML: ")


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('{"users": "many"}', "must map table names to row counts"),
    ('[1, 2]', "must map table names to row counts"),
    (b"\xff\xfe", "is not valid JSON"),
])
def test_malformed_table_sizes_exit_2(project, content, message):
    sizes = project / "sizes.json"
    sizes.write_bytes(content if isinstance(content, bytes) else content.encode())
    path = pyproject(project, 'table-sizes = "sizes.json"\n')
    code, _, err = run_cli("check", ".", cwd=project)
    assert code == 2
    assert err.startswith(f"sqlalint: error: {path}: tool.sqlalint.table-sizes: ")
    assert message in err
    assert "Traceback" not in err


def test_table_sizes_read(project):
    (project / "sizes.json").write_text(json.dumps({"tables": {"users": 50000, "country": 3}}))
    path = pyproject(project, 'table-sizes = "sizes.json"\nlarge-table-rows = 100\n')
    settings = settings_from_file(path)
    assert settings.table_size_map == {"users": 50000, "country": 3}
    assert settings.large_table_rows == 100
    assert settings.root == project.resolve()


def test_library_settings_api(project):
    path = pyproject(project, 'select = ["sla2"]\nextend-exclude = ["migrations"]\n')
    settings = load_settings(None, search_from=project / "pkg")
    assert settings.select == ("SLA2",)
    assert settings.extend_exclude == ("migrations",)
    assert settings.config_path == path
    assert load_settings(None, search_from=project, isolated=True) == Settings(root=project.resolve())
    with pytest.raises(ConfigError, match="unknown key"):
        (project / "x.toml").write_text("nope = 1\n")
        settings_from_file(project / "x.toml")


def test_select_all(project):
    pyproject(project, 'select = ["ALL"]\n')
    assert len(codes(run_cli("check", ".", cwd=project)[1])) == 3
