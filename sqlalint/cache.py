"""The result cache: an unchanged file, under unchanged settings, is never parsed twice.

One JSON file per entry under ``<cache dir>/results/``, named by a hash of everything the
result depends on: the file's content hash, its displayed path and module name, the
effective settings, the sqlalint version and code, and the project index's fingerprint.
(Only for the files that were analysed: the bytes of most rule them out, which costs less
than writing and reading an entry.)
Entries are written to a temporary file and renamed into place, so runs sharing the folder
never see a half-written entry (the worst case is computing one twice). Only CHECK results
are cached.

Two files make a re-run cheap (``<cache dir>/state/``): ``files.json`` knows each file's
content hash by its (size, mtime, inode), so an unchanged file is not even read (as git's
index does, a file modified within seconds of being hashed is hashed again); and one
*run file* per settings, index fingerprint and working folder maps each displayed path to
its content hash and result, so a re-run reads one file instead of one per source file.
A run file entry is used only when its content hash is the file's. Both are replaced
atomically; two runs at once may each recompute what the other wrote, never read a torn
file. :class:`LazyIndex` keeps the project index's fingerprint and trigger names there
too, so a fully cached run never builds the index.

Deliberately light: no libcst, no rules, so a fully cached run never imports them.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from sqlalint import __version__

try:  # hashlib loads OpenSSL (4 ms of a 0.2 s cached run) for a hash CPython builds in
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python
    from hashlib import blake2b

if TYPE_CHECKING:
    from sqlalint.index import ProjectIndex

RESULTS = "results"  # the index keeps its own cache in a sibling folder
STATE = "state"  # files.json, run files, index states
PRUNE_AFTER_DAYS = 30  # an entry not used for this long is dropped
MAX_ENTRIES = 200_000  # above this, the least recently used entries go too
_TOUCH_AFTER = 86_400  # refresh an entry's mtime (its "last used") at most once a day
_PRUNE_MARKER = ".last-prune"
# A file whose mtime is within this of the moment it was hashed is hashed again: a write
# in the same clock tick as the hashing would not change its mtime.
_RACY_NS = 2_000_000_000


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
    return blake2b(text.encode(), digest_size=32).hexdigest()


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
    return blake2b("\n".join(parts).encode(), digest_size=32).hexdigest()


def content_hash(raw: bytes) -> str:
    return blake2b(raw, digest_size=16).hexdigest()


class ContentHashes:
    """The content hash of each file, taken from ``<cache dir>/state/files.json`` when the
    file's size, mtime and inode are what they were when it was last hashed (and it was
    not modified within _RACY_NS of that), else by reading it. ``folder`` None: always read."""

    def __init__(self, folder: Optional[Path]):
        self.file = Path(folder) / STATE / "files.json" if folder is not None else None
        data = _read_json(self.file) if self.file is not None else None
        known = data.get("files") if isinstance(data, dict) and data.get("v") == 1 else None
        self.known: dict[str, list] = known if isinstance(known, dict) else {}
        self.fresh: dict[str, list] = {}  # hashed during this run
        self._done: dict[str, Optional[str]] = {}  # every answer of this run, by path as given
        self._cwd = os.getcwd()

    def name(self, path: "Path | str") -> str:
        """The absolute path, as stored (``os.path.abspath`` for the normalised paths
        discovery gives, at a fraction of its cost)."""
        text = os.fspath(path)
        return text if os.path.isabs(text) else os.path.join(self._cwd, text)

    def digest(self, path: Path) -> Optional[str]:
        """The content hash of ``path``, None when it cannot be read."""
        text = os.fspath(path)  # the same path is asked about twice (the index's key, the run)
        if text not in self._done:
            self._done[text] = self._digest(text, self.name(text))
        return self._done[text]

    def _digest(self, path: str, name: str) -> Optional[str]:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return None
        signature = [info.st_size, info.st_mtime_ns, info.st_ino]
        old = self.known.get(name)
        if isinstance(old, list) and len(old) == 5 and old[:3] == signature \
                and info.st_mtime_ns < old[4] - _RACY_NS:
            return old[3]
        now = time.time_ns()  # taken before reading: a later write makes the entry racy
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except (OSError, ValueError):
            return None
        self.fresh[name] = [*signature, content_hash(raw), now]
        return self.fresh[name][3]

    def save(self) -> None:
        """Write what this run learnt, keeping entries of files it did not look at that
        still exist."""
        if self.file is None or not self.fresh:
            return
        merged = {name: entry for name, entry in self.known.items()
                  if name not in self.fresh and os.path.lexists(name)}
        merged.update(self.fresh)
        _write_json(self.file, {"v": 1, "files": merged})


class ResultCache:
    def __init__(self, folder: Path, settings: Any, index_fingerprint: str = "",
                 hashes: Optional[ContentHashes] = None):
        self.folder = Path(folder)
        self.results = self.folder / RESULTS
        self.hashes = hashes if hashes is not None else ContentHashes(self.folder)
        salt = "\0".join((code_fingerprint(), settings_fingerprint(settings), index_fingerprint))
        self._salt = salt.encode()
        self._ready = False
        # The run file of these settings and this working folder (displayed paths are
        # relative to it): displayed path -> [content hash, entry].
        name = blake2b(self._salt + b"\0" + os.getcwd().encode("utf-8", "surrogateescape"),
                       digest_size=16).hexdigest()
        self.run_file = self.folder / STATE / f"run-{name}.json"
        self._run: Optional[dict[str, list]] = None
        self._changed: dict[str, list] = {}

    def key(self, digest: str, display: str, module: tuple[str, bool]) -> str:
        hashed = blake2b(self._salt, digest_size=20)
        hashed.update(f"\0{display}\0{module[0]}\0{module[1]}\0{digest}".encode("utf-8", "surrogateescape"))
        return hashed.hexdigest()

    def lookup(self, path: Path, display: str, root: Path) -> tuple[Optional[dict], Optional[tuple[str, str, str]]]:
        """The stored entry for ``path`` (see :func:`encode_report`) or None, and the token
        to :meth:`store` its result under; (None, None) when it cannot be read."""
        digest = self.hashes.digest(path)
        if digest is None:
            return None, None
        if self._run is None:
            data = _read_json(self.run_file)
            files = data.get("files") if isinstance(data, dict) and data.get("v") == 1 else None
            self._run = files if isinstance(files, dict) else {}
        found = self._run.get(display)
        if isinstance(found, list) and len(found) == 2 and found[0] == digest and isinstance(found[1], dict):
            return found[1], (display, digest, "")
        from sqlalint.files import module_name

        key = self.key(digest, display, module_name(path, root))
        entry = self.get(key)
        if entry is not None:
            self._changed[display] = [digest, entry]
        return entry, (display, digest, key)

    def store(self, token: tuple[str, str, str], entry: dict, analysed: bool = True) -> None:
        """Store ``entry`` in the run file and, for a file that was ``analysed`` (its bytes
        did not rule it out), as an entry of its own. (Most files are ruled out by their
        bytes: doing that again costs less than writing an entry file, and reading it.)"""
        display, digest, key = token
        if key and analysed:
            self.put(key, entry)
        self._changed[display] = [digest, entry]

    def save(self) -> None:
        """Write the run file (when anything changed) and the content hashes."""
        self.hashes.save()
        if self._changed:
            run = {display: entry for display, entry in (self._run or {}).items()
                   if display in self._changed or os.path.lexists(display)}
            run.update(self._changed)
            self._prepare()
            _write_json(self.run_file, {"v": 1, "files": run})
        else:
            _touch_daily(self.run_file)

    def _path(self, key: str) -> Path:
        return self.results / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[dict]:
        """The stored entry (see :func:`encode_report`), or None."""
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError):
            return None
        _touch_daily(path)
        return data if isinstance(data, dict) else None

    def put(self, key: str, entry: dict) -> None:
        """Store an entry atomically; a cache that cannot be written is silently skipped."""
        path = self._path(key)
        try:
            self._prepare()
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        _write_json(path, entry)

    def _prepare(self) -> None:
        if self._ready:
            return
        self._ready = True
        try:
            self.results.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            _write_small(ignore, "# Created by sqlalint.\n*\n")

    def prune(self, now: Optional[float] = None) -> int:
        """Drop entries and run files unused for PRUNE_AFTER_DAYS days, and the oldest
        entries above MAX_ENTRIES. Runs at most once a day (a marker file's mtime says when
        it last ran). Returns how many entries it removed."""
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
        for entry in _scandir(self.folder / STATE):  # run files and index states
            try:
                if entry.name.startswith(("run-", "index-", ".tmp-")) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass
        return removed


class LazyIndex:
    """The project index of a run, built only when a file is actually linted. All a fully
    cached run asks of it, its fingerprint, trigger and opener names, is kept in
    ``<cache dir>/state/`` under a key made of every indexed file's path and content hash
    (and the code, settings and working folder), so such a run never builds it. Anything
    else is delegated to the built :class:`~sqlalint.index.ProjectIndex`."""

    def __init__(self, settings: Any, files: Callable[[], Sequence[Path]], folder: Optional[Path] = None,
                 hashes: Optional[ContentHashes] = None, jobs: Optional[int] = None):
        self._settings = settings
        self._jobs = jobs
        self._discover = files
        self._listed: Optional[Sequence[Path]] = None
        self._folder = Path(folder) if folder is not None else None
        self._index: Optional["ProjectIndex"] = None
        self._state: Optional[dict] = None
        self.meanwhile: Optional[Callable[[], object]] = None  # see ProjectIndex.build
        self._key = ""
        if self._folder is not None:
            hashes = hashes if hashes is not None else ContentHashes(self._folder)
            self._key, self._state_file = self._state_key(hashes)
            state = _read_json(self._state_file)
            if isinstance(state, dict) and state.get("key") == self._key:
                state["triggers"] = tuple(state.get("triggers") or ())
                state["openers"] = tuple(state.get("openers") or ())
                self._state = state
                _touch_daily(self._state_file)  # in use: not pruned

    def _files(self) -> Sequence[Path]:
        if self._listed is None:
            self._listed = self._discover()
        return self._listed

    def _state_key(self, hashes: ContentHashes) -> tuple[str, Path]:
        settings = self._settings
        where = "\0".join((code_fingerprint(), str(settings.root), os.getcwd(),
                           repr(sorted(settings.session_factories)), repr(sorted(settings.engine_factories))))
        digest = blake2b(where.encode("utf-8", "surrogateescape"), digest_size=20)
        for path in self._files():
            if path.suffix == ".py":
                digest.update(f"\0{hashes.name(path)}\0{hashes.digest(path) or '-'}"
                              .encode("utf-8", "surrogateescape"))
        name = blake2b(where.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
        return digest.hexdigest(), self._folder / STATE / f"index-{name}.json"  # type: ignore[operator]

    def resolve(self) -> "ProjectIndex":
        """The built index (built now if need be; ``meanwhile``, when set, as for
        ProjectIndex.build)."""
        if self._index is None:
            from sqlalint.index import CACHE_SUBDIR, ProjectIndex

            settings = self._settings
            self._index = ProjectIndex.build(
                Path(settings.root), self._files(),
                cache_dir=self._folder / CACHE_SUBDIR if self._folder is not None else None,
                session_factories=settings.session_factories, engine_factories=settings.engine_factories,
                jobs=self._jobs, meanwhile=self.meanwhile)
            if self._folder is not None:
                self._state = {"key": self._key, "fingerprint": self._index.fingerprint(),
                               "triggers": self._index.trigger_names(), "openers": self._index.opener_names()}
                try:
                    self._state_file.parent.mkdir(parents=True, exist_ok=True)
                except OSError:
                    pass
                _write_json(self._state_file, self._state)
        return self._index

    def fingerprint(self) -> str:
        return self._state["fingerprint"] if self._state is not None else self.resolve().fingerprint()

    def trigger_names(self) -> tuple[str, ...]:
        return self._state["triggers"] if self._state is not None else self.resolve().trigger_names()

    def opener_names(self) -> tuple[str, ...]:
        return self._state["openers"] if self._state is not None else self.resolve().opener_names()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not set yet (unpickling): never build for these
            raise AttributeError(name)
        return getattr(self.resolve(), name)


def _read_json(path: Optional[Path]) -> Any:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    """Write atomically (a temporary file renamed into place); skipped when it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = _temporary(path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temp, path)
    except BaseException as error:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if not isinstance(error, (OSError, ValueError)):
            raise


def _temporary(folder: Path) -> tuple[int, str]:
    """A new ``.tmp-`` file in ``folder`` (tempfile.mkstemp without importing tempfile,
    which costs start-up)."""
    name = os.path.join(folder, f".tmp-{os.getpid()}-{os.urandom(8).hex()}")
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), name


def _touch_daily(path: Path) -> None:
    """Refresh ``path``'s mtime (its "last used", for pruning) at most once a day."""
    try:
        if time.time() - os.stat(path).st_mtime > _TOUCH_AFTER:
            os.utime(path)
    except OSError:
        pass


def _scandir(folder: Path) -> list:
    try:
        return list(os.scandir(folder))
    except OSError:
        return []


def _write_small(path: Path, text: str) -> None:
    try:
        fd, temp = _temporary(path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError:
        pass


# -- (de)serialising a CHECK result ------------------------------------------------------

def encode_report(diagnostics: list, has_text: bool) -> dict:
    return {"text": has_text, "diagnostics": [_canonical(d) for d in diagnostics]}


def decode_diagnostics(entry: dict) -> list:
    from sqlalint.diagnostics import Applicability, Diagnostic, Edit, ResolvedFix

    diagnostics = []
    for data in entry.get("diagnostics", ()):
        data = dict(data)  # the entry may be written again (the run file): leave it whole
        fix = data.pop("fix", None)
        if fix is not None:
            fix = ResolvedFix(fix["message"], Applicability(fix["applicability"]),
                              tuple(Edit(**edit) for edit in fix["edits"]))
        diagnostics.append(Diagnostic(**data, fix=fix))
    return diagnostics
