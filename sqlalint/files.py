"""Files: discovery and exclusion, reading with the right encoding, atomic writes."""
from __future__ import annotations

import codecs
import io
import os
import stat
import subprocess
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from sqlalint.config import Settings, resolved

PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Discovery:
    files: list[Path]
    missing: list[str]  # paths given on the command line that do not exist


def discover(paths: Iterable[str], settings: Settings) -> Discovery:
    """The Python files under ``paths``: .gitignore honoured inside a git repository,
    default and configured excludes applied. A file named explicitly is always linted
    unless an exclude pattern matches it."""
    found: dict[Path, None] = {}
    missing = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in _files_under(path, settings):
                found.setdefault(file, None)
        elif path.exists() or path.is_symlink():
            if not settings.is_excluded(path):
                found.setdefault(path, None)
        else:
            missing.append(given)
    return Discovery(list(found), missing)


def _files_under(folder: Path, settings: Settings) -> list[Path]:
    names = _git_files(folder)
    by_git = names is not None
    if names is None:
        names = [os.path.relpath(path, folder) for path in _walk(folder, settings)]
    try:  # the folder relative to the project root: each file's is that plus its own name
        base: Optional[str] = resolved(folder).relative_to(resolved(settings.root)).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (3.11)
        base = None
    prefix = "" if base in (None, ".") else f"{base}/"
    found = []
    # Sorted as paths sort (by their parts), before each name becomes a Path: comparing
    # strings costs less.
    for name in sorted((n for n in names if os.path.splitext(n)[1] in PYTHON_SUFFIXES), key=_parts):
        path = folder / name
        if _is_source(path, prefix + name, base, settings, by_git):
            found.append(path)
    return found


def _parts(name: str) -> list[str]:
    """What a Path of ``name`` sorts by: its parts (case-folded on Windows)."""
    if os.altsep:
        name = name.replace(os.altsep, os.sep)
    return (name.lower() if os.name == "nt" else name).split(os.sep)


def _is_source(path: Path, relative: str, base: Optional[str], settings: Settings, by_git: bool) -> bool:
    """Is ``path`` (``relative`` to the root, when ``base``, the listed folder, is inside
    it) a file no exclude pattern matches? One lstat; a symlink, or a folder outside the
    root, takes the resolving way."""
    try:
        info = os.lstat(path)
    except OSError:  # ls-files lists deleted-but-tracked files too
        return False
    if base is None or stat.S_ISLNK(info.st_mode):
        # ls-files lists broken links too: drop them; a walked one is reported unreadable.
        return (path.exists() or not by_git) and not path.is_dir() and not settings.is_excluded(path)
    return not stat.S_ISDIR(info.st_mode) and not settings.is_excluded_relative(relative)


def _git_files(folder: Path) -> Optional[list[str]]:
    """Tracked and untracked-but-not-ignored files, relative to ``folder``, when it is
    inside a work tree."""
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=folder, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]


def _walk(folder: Path, settings: Settings) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):  # does not follow symlinked folders: no loops
        base = Path(root)
        dirs[:] = sorted(d for d in dirs if not settings.is_excluded(base / d))
        files.extend(base / n for n in names)
    return files


# -- reading and writing -------------------------------------------------------------------

class SourceError(Exception):
    """A file that cannot be read or decoded: ``line``/``column`` say where, when known."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class SourceFile:
    path: Path
    raw: bytes
    text: str  # without the BOM
    encoding: str
    bom: bool

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data


def decode(raw: bytes, path: Path) -> SourceFile:
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as error:
        raise SourceError(f"cannot decode: {error}") from None
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    body = raw[len(codecs.BOM_UTF8):] if bom else raw
    try:
        text = body.decode(encoding)
    except LookupError:
        raise SourceError(f"cannot decode: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as error:
        before = body[:error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise SourceError(f"cannot decode as {encoding}: byte 0x{body[error.start]:02x} is not valid "
                          f"({error.reason})", line, column) from None
    if "\0" in text:
        line = text[:text.index("\0")].count("\n") + 1
        raise SourceError("contains a NUL byte: not a Python source file", line, 1)
    return SourceFile(path, raw, text, encoding, bom)


def read_source(path: Path) -> SourceFile:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise SourceError("is a directory, not a file") from None
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}") from None
    return decode(raw, path)


class WriteError(Exception):
    pass


def write_atomic(source: SourceFile, text: str) -> bool:
    """Replace the file with ``text`` in the same encoding, BOM and permissions.

    Writes a temporary file beside it and renames it over the original, so a crash leaves
    either the old or the new file. Returns False (and writes nothing) when the bytes would
    not change. Raises WriteError when the file changed on disk since it was read.
    """
    try:
        data = source.encode(text)
    except UnicodeEncodeError as error:
        raise WriteError(f"the fixed text cannot be encoded as {source.encoding}: {error.reason}") from None
    if data == source.raw:
        return False
    import tempfile  # here: start-up does not need it

    path = source.path
    target = Path(os.path.realpath(path))  # write through a symlink, keep the link
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        if target.read_bytes() != source.raw:
            raise WriteError("changed on disk while sqlalint ran; not overwritten")
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".sqlalint-tmp", dir=target.parent)
    except OSError as error:
        raise WriteError(f"cannot write: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        if target.read_bytes() != source.raw:
            raise WriteError("changed on disk while sqlalint ran; not overwritten")
        os.replace(temp, target)
    except BaseException as error:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise WriteError(f"cannot write: {error.strerror or error}") from None
        raise
    return True


def module_name(path: Path, root: Path, folders: Optional[dict[Path, Path]] = None) -> tuple[str, bool]:
    """The dotted module name of ``path`` in a project rooted at ``root`` (flat or src/
    layout), and whether it is a package's ``__init__``. ("", False) when outside root.
    ``folders`` remembers each folder resolved (for many files: a system call per folder
    of each path, else)."""
    try:
        if folders is None or path.is_symlink():
            found = path.resolve()
        else:
            folder = folders.get(path.parent)
            if folder is None:
                folder = folders[path.parent] = path.parent.resolve()
            found = folder / path.name
        relative = found.relative_to(resolved(root))
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (3.11)
        return "", False
    parts = list(relative.with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    is_package = bool(parts) and parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    if not all(p.isidentifier() for p in parts):
        return "", is_package
    return ".".join(parts), is_package
