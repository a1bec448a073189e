"""The result cache: an unchanged file, under unchanged settings, is never parsed twice.

One JSON file per entry under ``<cache dir>/results/``, named by a hash of everything the
result depends on: the file's bytes, its displayed path and module name, the effective
settings, the sqlalint version and code, and the project index's fingerprint. Entries are
written to a temporary file and renamed into place, so runs sharing the folder never see a
half-written entry (the worst case is computing one twice). Only CHECK results are cached.

Deliberately light: no libcst, no rules, so a fully cached run never imports them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from sqlalint import __version__

RESULTS = "results"  # the index keeps its own cache in a sibling folder
PRUNE_AFTER_DAYS = 30  # an entry not used for this long is dropped
MAX_ENTRIES = 200_000  # above this, the least recently used entries go too
_TOUCH_AFTER = 86_400  # refresh an entry's mtime (its "last used") at most once a day
_PRUNE_MARKER = ".last-prune"


def default_folder(root: Path) -> Path:
    return root / ".sqlalint_cache"


def _canonical(value: Any) -> Any:
    """A JSON-able form with a stable order (sets are unordered, str hashes are salted)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, Path):
        return str(value)
    return value


def settings_fingerprint(settings: Any) -> str:
    """A stable fingerprint of a :class:`~sqlalint.config.Settings` (same across processes)."""
    text = json.dumps(_canonical(settings), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def code_fingerprint() -> str:
    """The version plus the size and mtime of every module of the package: an edited rule
    (an editable install during development) invalidates the cache like a new release."""
    package = Path(__file__).resolve().parent
    parts = [__version__]
    for folder in (package, package / "rules"):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                stat = entry.stat()
                parts.append(f"{folder.name}/{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class ResultCache:
    def __init__(self, folder: Path, settings: Any, index_fingerprint: str = ""):
        self.folder = Path(folder)
        self.results = self.folder / RESULTS
        salt = "\0".join((code_fingerprint(), settings_fingerprint(settings), index_fingerprint))
        self._salt = salt.encode()
        self._ready = False

    def key(self, raw: bytes, display: str, module: tuple[str, bool]) -> str:
        digest = hashlib.blake2b(self._salt, digest_size=20)
        digest.update(f"\0{display}\0{module[0]}\0{module[1]}\0".encode("utf-8", "surrogateescape"))
        digest.update(raw)
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.results / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[dict]:
        """The stored entry (see :func:`encode_report`), or None."""
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                data = json.loads(handle.read())
            if time.time() - os.stat(path).st_mtime > _TOUCH_AFTER:
                os.utime(path)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, entry: dict) -> None:
        """Store an entry atomically; a cache that cannot be written is silently skipped."""
        path = self._path(key)
        try:
            self._prepare()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(entry, handle, separators=(",", ":"))
                os.replace(temp, path)
            except BaseException:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
                raise
        except OSError:
            pass

    def _prepare(self) -> None:
        if self._ready:
            return
        self._ready = True
        self.results.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            _write_small(ignore, "# Created by sqlalint.\n*\n")

    def prune(self, now: Optional[float] = None) -> int:
        """Drop entries unused for PRUNE_AFTER_DAYS days, and the oldest above MAX_ENTRIES.
        Runs at most once a day (a marker file's mtime says when it last ran). Returns how
        many entries it removed."""
        now = time.time() if now is None else now
        marker = self.results / _PRUNE_MARKER
        try:
            if now - marker.stat().st_mtime < _TOUCH_AFTER:
                return 0
        except FileNotFoundError:
            if not self.results.is_dir():
                return 0
        except OSError:
            return 0
        _write_small(marker, "")
        entries: list[tuple[float, str]] = []
        for shard in _scandir(self.results):
            if shard.is_dir():
                for entry in _scandir(Path(shard.path)):
                    try:
                        entries.append((entry.stat().st_mtime, entry.path))
                    except OSError:
                        pass
        entries.sort()
        cutoff = now - PRUNE_AFTER_DAYS * 86_400
        excess = len(entries) - MAX_ENTRIES
        removed = 0
        for position, (mtime, path) in enumerate(entries):
            if mtime < cutoff or position < excess or (path.rsplit("/", 1)[-1].startswith(".tmp-")
                                                       and mtime < now - 3600):
                try:
                    os.unlink(path)
                    removed += 1
                except OSError:
                    pass
        return removed


def _scandir(folder: Path) -> list:
    try:
        return list(os.scandir(folder))
    except OSError:
        return []


def _write_small(path: Path, text: str) -> None:
    try:
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError:
        pass


# -- (de)serialising a CHECK result ------------------------------------------------------

def encode_report(diagnostics: list, has_text: bool) -> dict:
    return {"text": has_text, "diagnostics": [_canonical(d) for d in diagnostics]}


def decode_diagnostics(entry: dict) -> list:
    from sqlalint.engine import Diagnostic, ResolvedFix
    from sqlalint.rule import Applicability, Edit

    diagnostics = []
    for data in entry.get("diagnostics", ()):
        fix = data.pop("fix", None)
        if fix is not None:
            fix = ResolvedFix(fix["message"], Applicability(fix["applicability"]),
                              tuple(Edit(**edit) for edit in fix["edits"]))
        diagnostics.append(Diagnostic(**data, fix=fix))
    return diagnostics
