"""``[tool.sqlalint]`` -> frozen :class:`Settings`. Unknown keys and bad values are errors."""
from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Optional


DEFAULT_EXCLUDE = (".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__",
                   "site-packages", ".tox", ".nox", ".sqlalint_cache")


class ConfigError(Exception):
    """A configuration problem: the message names the file and the key."""


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("SLA",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    large_models: tuple[str, ...] = ("*",)
    small_models: tuple[str, ...] = ()
    session_factories: frozenset = frozenset()
    engine_factories: frozenset = frozenset()
    table_sizes: Optional[tuple[tuple[str, int], ...]] = None  # read from the JSON file
    large_table_rows: int = 10000
    # Larger files get an SLA001 finding instead of an analysis: libcst holds ~700 bytes of
    # tree per byte of source (a 5 MB module needs ~3.5 GB). 0: no limit.
    max_file_size: int = 1_000_000
    # Where the settings came from, for messages and relative globs.
    config_path: Optional[Path] = None
    root: Path = field(default_factory=Path.cwd)

    def selected(self, codes: Iterable[str], path: Optional[str] = None) -> set[str]:
        """The codes among ``codes`` that apply (to ``path`` when given)."""
        chosen = set(_selected(tuple(codes), (*self.select, *self.extend_select), self.ignore))
        if path is not None and self.per_file_ignores:
            ignored = self.ignored_for(path)
            chosen = {c for c in chosen if not any(c.startswith(p) for p in ignored)}
        return chosen

    def ignored_for(self, path: str) -> set[str]:
        relative = _relative(path, self.root)
        ignored: set[str] = set()
        for pattern, codes in self.per_file_ignores:
            if _glob_match(relative, pattern):
                ignored.update(codes)
        return ignored

    def is_excluded(self, path: Path) -> bool:
        """Does an exclude pattern match this path, its name, or one of its folders?"""
        return self.is_excluded_relative(_relative(str(path), self.root))

    def is_excluded_relative(self, relative: str) -> bool:
        """:meth:`is_excluded` of a path already made relative to the (resolved) root."""
        return _exclusion((*self.exclude, *self.extend_exclude)).matches(relative)

    @property
    def table_size_map(self) -> Optional[dict[str, int]]:
        return dict(self.table_sizes) if self.table_sizes is not None else None


@functools.lru_cache(maxsize=64)  # asked once per linted file, with the same codes
def _selected(codes: tuple[str, ...], select: tuple[str, ...], ignore: tuple[str, ...]) -> frozenset:
    return frozenset(code for code in codes if code.startswith(select) and not code.startswith(ignore))


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(resolved(root)).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (3.11)
        return Path(path).as_posix()


def resolved(root: Path) -> Path:
    """``root.resolve()``, once per run for an absolute root: it costs a system call per
    folder of the path."""
    return _resolved_absolute(root) if root.is_absolute() else root.resolve()


@functools.lru_cache(maxsize=64)
def _resolved_absolute(root: Path) -> Path:
    return Path(os.path.realpath(root))


class _Exclusion:
    """The tests of :meth:`Settings.is_excluded` (:func:`_glob_match` on the whole path and
    a match on any part) for all patterns at once: literal patterns (the defaults) as set
    lookups, the others as one regex per test. Discovery asks this of every file."""

    def __init__(self, patterns: tuple[str, ...]):
        literal = [p for p in patterns if not any(c in p for c in "*?[")]
        globs = [p for p in patterns if p not in literal]
        self.whole = {p.rstrip("/") for p in literal}  # the path, or a folder it is under
        self.under = tuple(f"{p}/" for p in self.whole)
        self.parts = set(literal)
        self.globs: Optional[tuple[re.Pattern, re.Pattern, re.Pattern]] = None
        if globs:
            stripped = [p.rstrip("/") for p in globs]
            whole = "|".join(fnmatch.translate(p) + "|" + fnmatch.translate(p + "/*") for p in stripped)
            self.globs = (re.compile(whole), re.compile("|".join(fnmatch.translate(p) for p in stripped)),
                          re.compile("|".join(fnmatch.translate(p) for p in globs)))

    def matches(self, relative: str) -> bool:
        parts = relative.split("/")
        if "" in parts or "." in parts:  # not a plain relative path: pathlib normalises it
            parts = list(Path(relative).parts)
        if not parts:
            return False
        if relative in self.whole or relative.startswith(self.under) or parts[-1] in self.whole \
                or any(p in self.parts for p in parts):
            return True
        if self.globs is None:
            return False
        whole, name, part = self.globs
        return bool(whole.match(relative) or name.match(parts[-1]) or any(part.match(p) for p in parts))


@functools.lru_cache(maxsize=16)
def _exclusion(patterns: tuple[str, ...]) -> _Exclusion:
    return _Exclusion(patterns)


def _glob_match(relative: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    return fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(relative, pattern + "/*") \
        or fnmatch.fnmatchcase(Path(relative).name, pattern)


def _toml() -> Any:
    """tomllib, imported when a file is read (start-up)."""
    import tomllib

    return tomllib


def find_config(start: Path) -> Optional[Path]:
    """The nearest pyproject.toml (from ``start`` upwards) that has a [tool.sqlalint] table."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    tomllib = _toml()
    for candidate in [folder, *folder.parents]:
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
                raise ConfigError(f"{pyproject}: cannot read: {error}") from None
            if "sqlalint" in data.get("tool", {}):
                return pyproject
    return None


def find_root(start: Path) -> Path:
    """The project root: nearest folder with pyproject.toml or .git, else ``start``."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents]:
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate
    return folder


def load_settings(config: Optional[Path], *, search_from: Path, isolated: bool = False) -> Settings:
    """Settings from ``config`` (or the nearest pyproject.toml), unless ``isolated``."""
    root = find_root(search_from)
    if isolated:
        return Settings(root=root)
    if config is None:
        config = find_config(search_from)
        if config is None:
            return Settings(root=root)
    return settings_from_file(config)


def settings_from_file(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    tomllib = _toml()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("sqlalint", {})
        prefix = "tool.sqlalint."
    else:  # a dedicated file (sqlalint.toml): [tool.sqlalint] or top level
        table = data.get("tool", {}).get("sqlalint", data)
        prefix = ""
    return settings_from_table(table, path, prefix)


def settings_from_table(table: Any, path: Path, prefix: str = "") -> Settings:
    from sqlalint.rules import ALL_CODES

    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {prefix.rstrip('.') or 'tool.sqlalint'} must be a table")
    values: dict[str, Any] = {"config_path": path, "root": path.resolve().parent}

    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: {prefix}{key}: {why}")

    def strings(key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(key, "expected a list of strings")
        return tuple(value)

    def codes(key: str, value: Any) -> tuple[str, ...]:
        found = tuple(c.strip().upper() for c in strings(key, value))
        for code in found:
            if code != "ALL" and not any(known.startswith(code) for known in ALL_CODES):
                raise fail(key, f"unknown rule code or prefix {code!r}")
        return tuple("SLA" if c == "ALL" else c for c in found)

    for key, value in table.items():
        if key in ("select", "ignore", "extend-select"):
            values[key.replace("-", "_")] = codes(key, value)
        elif key in ("exclude", "extend-exclude", "large-models", "small-models"):
            values[key.replace("-", "_")] = strings(key, value)
        elif key in ("session-factories", "engine-factories"):
            values[key.replace("-", "_")] = frozenset(strings(key, value))
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise fail(key, "expected a table of glob = [codes]")
            values["per_file_ignores"] = tuple((glob, codes(f"{key}.{glob}", v)) for glob, v in value.items())
        elif key == "unsafe-fixes":
            if not isinstance(value, bool):
                raise fail(key, "expected true or false")
            values["unsafe_fixes"] = value
        elif key in ("large-table-rows", "max-file-size"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise fail(key, "expected a non-negative integer")
            values[key.replace("-", "_")] = value
        elif key == "table-sizes":
            if not isinstance(value, str):
                raise fail(key, "expected a path to a JSON file")
            values["table_sizes"] = read_table_sizes(path.resolve().parent / value, f"{path}: {prefix}{key}")
        else:
            raise fail(key, "unknown key")
    return Settings(**values)


def read_table_sizes(file: Path, where: str) -> tuple[tuple[str, int], ...]:
    """A JSON object of table name -> row count (as written by ``sqlalint table-sizes``)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{where}: cannot read {file}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{where}: {file} is not valid JSON: {error}") from None
    tables = data.get("tables", data) if isinstance(data, dict) else None
    if not isinstance(tables, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in tables.items()):
        raise ConfigError(f"{where}: {file} must map table names to row counts")
    return tuple(sorted((k, int(v)) for k, v in tables.items()))


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
