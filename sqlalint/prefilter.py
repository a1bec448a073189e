"""Decide, before paying for libcst, which files no selected rule can match.

The byte triggers (:func:`worth_parsing`) keep every file that says ``session`` or ``for``;
on a Flask-SQLAlchemy application that is most of them, and libcst plus the model costs
tens of times what even ``ast.parse`` does. So a surviving file is reduced, with compiled
regular expressions (C speed, no parse), to its *code*: the bytes with comments removed and
each plain string literal replaced by its quote character (f-strings stay: their fields are
code). Each selected rule is then asked for a cheap *necessary* condition on that text
(:class:`Facts`): which words it uses, which methods it calls, whether it builds strings.
Only when one rule may match does libcst run.

Conservative by construction: every condition reads a SUPERSET of what the code says (the
text of f-strings, words in odd places, a file the scanner is unsure of kept whole), so it
can only let more files through. A rule can define ``could_match(facts, project) -> bool``;
otherwise its entry in :data:`NECESSARY` is used; a rule with neither always passes. A file
with a syntax error that no condition holds for is skipped like any other (a syntax error
in a file that cannot matter is the compiler's job). Identifiers of project-defined
engines, factories and registries (the project index, the ``session-factories`` /
``engine-factories`` settings) count as session/engine names; any name the index knows
(models too) may supply a mapped model. tests/test_prefilter.py runs every rule's invalid
examples and every labelled case through it: each must pass.
"""
from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from sqlalint import sqla
from sqlalint.sqla import NEUTRAL, SESSION_STATEMENT_METHODS

# -- code text: comments and plain strings out, in one regex scan -------------------------

_ESC = rb"\\(?:\r\n|.)"


def _body(quote: bytes, plain: bytes, special: bytes) -> bytes:
    """``plain`` runs (a tight loop in the regex engine) between ``special`` pieces, up to
    ``quote``."""
    return plain + rb"*+(?:(?:" + special + rb")" + plain + rb"*+)*+" + quote


# An f-string from its quote, as Python 3.11 reads it: the first unescaped closing quote
# ends it, a field ``{...}`` holds no such quote. A 3.12 f-string that nests its own quote
# does not match.
_F_BODY = (rb'(?:"""' + _body(rb'"""', rb'[^"\\{]', _ESC + rb'|"(?!"")|\{\{|\{(?:[^"}]|"(?!""))*+\}')
           + rb"|'''" + _body(rb"'''", rb"[^'\\{]", _ESC + rb"|'(?!'')|\{\{|\{(?:[^'}]|'(?!''))*+\}")
           + rb'|"' + _body(rb'"', rb'[^"\\{\n]', _ESC + rb'|\{\{|\{[^"}\n]*+\}')
           + rb"|'" + _body(rb"'", rb"[^'\\{\n]", _ESC + rb"|\{\{|\{[^'}\n]*+\}") + rb")")
# A plain string from its quote (the quote captured; a prefix letter stays as code).
_PLAIN = (rb"([\"'])(?:"
          + rb'(?<=")""' + _body(rb'"""', rb'[^"\\]', _ESC + rb'|"(?!"")')
          + rb"|(?<=')''" + _body(rb"'''", rb"[^'\\]", _ESC + rb"|'(?!'')")
          + rb'|(?<=")' + _body(rb'"', rb'[^"\\\n]', _ESC)
          + rb"|(?<=')" + _body(rb"'", rb"[^'\\\n]", _ESC) + rb")")
# At an opening quote: the string prefix before it makes an f-string (or a 3.14 t-string).
_AFTER_F_PREFIX = rb"(?:(?<=(?<![\w])[fFtT])|(?<=(?<![\w])[fFtT][rR])|(?<=(?<![\w])[rR][fFtT]))"
# re.split keeps the groups: an f-string (kept whole), an f-string that does not read as
# above (3.12 nesting, unterminated: the scan could lose its place, so the file is read
# whole), a plain string's opening quote; a comment leaves nothing. Every alternative starts
# at ``#``, ``"`` or ``'``: the leading lookahead lets the regex engine skip other bytes.
# An f-string in the code (where each is kept whole and every other quote is a reduced
# plain string): captured, for re.split.
_FSTRING = re.compile(rb"(?=[fFtTrR])((?<![\w])(?:[fFtT][rR]?|[rR][fFtT])" + _F_BODY + rb")", re.S)
_TOKENS = re.compile(rb"(?=[#\"'])(?:(" + _AFTER_F_PREFIX + _F_BODY + rb")|(" + _AFTER_F_PREFIX + rb".)"
                     + rb"|#[^\r\n]*|" + _PLAIN + rb")", re.S)


# Bytes that cannot be part of an ASCII identifier become spaces: ``split`` then gives the
# words (a non-ASCII identifier splits into more words: a superset).
_NOT_WORD = bytes(c if chr(c).isascii() and (chr(c).isalnum() or c == ord("_")) else 32 for c in range(256))


def words_of(data: bytes) -> frozenset:
    return frozenset(data.translate(_NOT_WORD).split())


class Facts:
    """A module's text, and lazily its code (comments and plain strings removed) and the
    words of each."""

    __slots__ = ("raw", "_code", "_fstrings", "_whole", "_raw_words", "_code_words", "_flat")

    def __init__(self, raw: bytes):
        self.raw = raw
        self._code: Optional[bytes] = None
        self._fstrings = self._whole = False
        self._raw_words: Optional[frozenset] = None
        self._code_words: Optional[frozenset] = None
        self._flat: Optional[tuple[bytes, bytes]] = None

    @property
    def code(self) -> bytes:
        if self._code is None:
            self._code, self._fstrings, self._whole = _split_code(self.raw)
        return self._code

    @property
    def fstrings(self) -> bool:
        """Does the code keep an f-string (whose text may hold brackets)?"""
        return self.code is not None and self._fstrings

    @property
    def whole(self) -> bool:
        """Is the code the whole text (the scan was unsure of an f-string)?"""
        return self.code is not None and self._whole

    def raw_words(self) -> frozenset:
        if self._raw_words is None:
            self._raw_words = words_of(self.raw)
        return self._raw_words

    @property
    def flat(self) -> tuple[bytes, bytes]:
        """The code with each f-string reduced to ``\\x01`` (its brackets and quotes gone, so
        brackets in what is left match), and the f-strings' own text (their fields are
        code a condition must still look at)."""
        if self._flat is None:
            parts = _FSTRING.split(self.code) if self.fstrings else [self.code]
            self._flat = b"\x01".join(parts[0::2]), b"\n".join(parts[1::2])
        return self._flat

    def code_words(self) -> frozenset:
        """Removing comments and strings never makes a new word: a subset of raw_words."""
        if self._code_words is None:
            self._code_words = words_of(self.code)
        return self._code_words


def _split_code(data: bytes) -> tuple[bytes, bool, bool]:
    """The code, whether it keeps f-strings, whether it is all of ``data``."""
    parts = _TOKENS.split(data)
    if any(parts[2::4]):
        return data, True, True
    return b"".join(filter(None, parts)), any(parts[1::4]), False


def code_of(data: bytes) -> bytes:
    """``data`` without comments, each plain string literal reduced to its quote; all of
    ``data`` when an f-string could make the scan lose its place."""
    return _split_code(data)[0]


def facts_of(source: Union[str, bytes]) -> Facts:
    return Facts(source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass"))


def _words(names: Iterable[str]) -> frozenset:
    return frozenset(n.encode() for n in names if n)


def _last(qualified: Iterable[str]) -> frozenset:
    return frozenset(q.rpartition(".")[2] for q in qualified)


ENGINE_NAMES = _last(sqla.ENGINE_CONSTRUCTORS | sqla.ASYNC_ENGINE_CONSTRUCTORS)
SESSION_NAMES = _last(sqla.SESSIONMAKERS | sqla.ASYNC_SESSIONMAKERS | sqla.SCOPED_SESSIONS
                      | sqla.SESSION_CLASSES | sqla.ASYNC_SESSION_CLASSES)
CACHE_NAMES = _last(sqla.FUNCTOOLS_CACHES)
EXECUTE_METHODS = frozenset({"execute", "exec_driver_sql"})
QUERY_ORIGINS = frozenset({"query", "execute", "scalars", "exec", "scalar"})

_CACHE = _words(CACHE_NAMES)
_ORIGIN = _words(QUERY_ORIGINS)
_FOR = _words(["for"])
_FUNCTION = _words(["def", "lambda"])
_CLASS = _words(["class"])
_TEXT = _words(["text"])
_EXECUTE_ANY = _words(EXECUTE_METHODS)


class _Shape:
    """A pattern over the code, and its superset over the raw text: wherever the code
    pattern allows space, the raw one also allows comments (what the code lost there)."""

    __slots__ = ("raw", "code")

    def __init__(self, build: Callable[[bytes], bytes]):
        # Possessive: what follows a space in every shape is neither a space nor ``#``, so
        # giving some back never helps, and a comment taken in part (``# )``, then the
        # ``)`` as code) made the search exponential in a run of commented-out lines.
        self.code = re.compile(build(rb"[\s\\]*+"), re.S)
        self.raw = re.compile(build(rb"(?:[\s\\]|#[^\r\n]*+)*+"), re.S)


def _called_attr(*names: str) -> _Shape:
    listed = b"|".join(n.encode() for n in names)
    return _Shape(lambda w: rb"\." + w + rb"(?:" + listed + rb")" + w + rb"\(")


# SQL built from values (sqltext.built_string): an f-string, or a string literal beside
# ``%``, ``+`` or ``.format``.
_BUILT = _Shape(lambda w: rb"(?=[\"'])" + _AFTER_F_PREFIX + rb"|[\"'](?:" + w + rb"\))*" + w
                + rb"(?:%|\+|\." + w + rb"format(?![\w]))|\+(?:" + w + rb"\()*" + w + rb"(?:[rRbBuU]{1,2})?[\"']")
_LEGACY_MODULE = _Shape(lambda w: rb"sqlalchemy(?<![\w.]sqlalchemy)" + w + rb"\." + w + rb"ext(?![\w])")
_DECLARATIVE = _words(["declarative"])


# An import from SQLAlchemy (or, in its own source, a relative one): the names it imports.
_API_IMPORT = re.compile(rb"from(?<![\w.]from)[\s\\]+(?:sqlalchemy|sqlmodel|\.)[\w.\s\\]*?import(?![\w])[\s\\]*"
                         rb"(\([^)]*\)|(?:\\\r?\n|[^\n;])*)")
_RELATIVE_IMPORT = re.compile(rb"from(?<![\w.]from)[\s\\]+\.")


class _Api:
    """SQLAlchemy's own names (``Session``, ``create_engine``...): they resolve to its API
    (model.qualified_name) only through an import from ``sqlalchemy`` or ``sqlmodel``, as
    an imported name or an attribute of an imported module (a project model may well be
    called ``Session``)."""

    __slots__ = ("names", "attribute")
    modules = _words(["sqlalchemy", "sqlmodel"])

    def __init__(self, names: Iterable[str]):
        self.names = _words(names)
        self.attribute = re.compile(rb"\.[\s\\]*(?:" + b"|".join(sorted(self.names)) + rb")(?![\w])")

    def holds(self, used: frozenset, text: bytes, raw: bool) -> bool:
        if self.names.isdisjoint(used):
            return False
        if self.modules.isdisjoint(used) and _RELATIVE_IMPORT.search(text) is None:
            return False
        if raw:
            return True  # comments in an import could mislead the scan: words only
        return self.attribute.search(text) is not None or any(
            not self.names.isdisjoint(words_of(names)) for names in _API_IMPORT.findall(text))


_SESSION_API = _Api(SESSION_NAMES)
_ENGINE_API = _Api(ENGINE_NAMES)


@dataclass(frozen=True)
class Project:
    """Names the project defines: ``sessions`` may name an engine, a session factory or a
    registry (``session_words``/``engine_words``: beside them a condition names the
    SQLAlchemy API, :class:`_Api`); ``known`` holds every name the index knows (models too)."""

    sessions: frozenset = frozenset()
    known: frozenset = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_words", _words(self.sessions))
        object.__setattr__(self, "engine_words", _words(self.sessions))
        object.__setattr__(self, "known_words", _words(self.known | self.sessions))


def as_project(project: Union[Project, Iterable[str]]) -> Project:
    """A Project; a plain set of names counts both as session/engine names and as known."""
    if isinstance(project, Project):
        return project
    names = frozenset(project)
    return Project(names, names)


# A necessary condition is a list of groups that must all hold; a group holds when one of
# its alternatives does: a set of words the code uses (a Project attribute name stands for
# the project's own words), SQLAlchemy names and their module (:class:`_Api`), or (words or
# None, shape): the words used and the shape found.
# Every group is first asked of the raw text (cheap, and never stricter), then of the code.
Alternative = Union[frozenset, str, tuple, _Api]


def _words_for(alternative: Alternative, project: "Project") -> Optional[frozenset]:
    words = alternative[0] if isinstance(alternative, tuple) else alternative
    return getattr(project, words) if isinstance(words, str) else words


def _holds(alternative: Alternative, project: "Project", used: frozenset, text: bytes, raw: bool) -> bool:
    if isinstance(alternative, _Api):
        return alternative.holds(used, text, raw)
    words = _words_for(alternative, project)
    if words is not None and words.isdisjoint(used):
        return False
    if not isinstance(alternative, tuple):
        return True
    shape = alternative[1]
    return (shape.raw if raw else shape.code).search(text) is not None


def _all_of(*groups: Sequence[Alternative]) -> Callable[[Facts, "Project"], bool]:
    def check(facts: Facts, project: Project) -> bool:
        for raw in (True, False):
            used = facts.raw_words() if raw else facts.code_words()
            text = facts.raw if raw else facts.code
            if not all(any(_holds(a, project, used, text, raw) for a in group) for group in groups):
                return False
        return True
    return check


_ALL = (_words(["all"]), _called_attr("all"))
_LEN = (_words(["len"]), _Shape(lambda w: rb"len(?<![\w.]len)" + w + rb"\("))
_MODEL = (_CLASS, "known_words")  # a class defined here or a name the index knows


_loads_query = _all_of([_ORIGIN], _MODEL, [_FOR, _ALL])
# A Session or registry (queries.ChainReader._session): SQLAlchemy's, a project name, or
# Flask's ``db.session``.
_has_session = _all_of(["session_words", _SESSION_API, _words(["session"])])


# -- SLA301: a chain that may load everything (queries.ChainReader, read from its end) ------

_QUERY_METHODS = frozenset(m.encode() for m in NEUTRAL | {"query"} | SESSION_STATEMENT_METHODS)
_ALL_CALL = re.compile(rb"\.(?=[\s\\]*all[\s\\]*\([\s\\]*\))")  # ``.all()`` without arguments
_METHOD_CALL = re.compile(rb"\.[\s\\]*(" + b"|".join(sorted(_QUERY_METHODS)) + rb")[\s\\]*\(")
# Where a chain may start (``session.query(M)``, ``session.execute(stmt)``...; ``scalars``
# is also a neutral method of a result), and the methods that neither bound nor stream it.
_ORIGIN_METHODS = frozenset(m.encode() for m in {"query"} | SESSION_STATEMENT_METHODS)
_NEUTRAL_METHODS = frozenset(m.encode() for m in NEUTRAL)
_ITERABLE_ENDS = re.compile(rb"[\s\\]*+(?:[:\])}]|(?:if|for|async)(?![\w]))")
_SPACE = b" \t\r\n\\"
_OPEN, _CLOSE, _QUOTES = b"([{", b")]}", b"\"'"
# A word before ``(`` that makes it an expression in parentheses, not a call.
_KEYWORDS = frozenset(k.encode() for k in keyword.kwlist + keyword.softkwlist)


def _is_word(byte: int) -> bool:
    return byte == 95 or 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122 or byte > 127


def _back_space(code: bytes, i: int) -> int:
    while i > 0 and code[i - 1] in _SPACE:
        i -= 1
    return i


def _back_word(code: bytes, i: int) -> int:
    while i > 0 and _is_word(code[i - 1]):
        i -= 1
    return i


def _matching(code: bytes, i: int, step: int) -> int:
    """The index of the bracket matching the one at ``i`` (searching by ``step``) in flat
    code (:attr:`Facts.flat`), or -1."""
    depth = 0
    opening, closing = (_OPEN, _CLOSE) if step > 0 else (_CLOSE, _OPEN)
    while 0 <= i < len(code):
        byte = code[i]
        if byte in opening:
            depth += 1
        elif byte in closing:
            depth -= 1
            if depth == 0:
                return i
        i += step
    return -1


def _receiver_may_load(code: bytes, dot: int, sessions: bool, locals_: bool) -> bool:
    """Can ``<receiver>.all()`` (its dot at ``dot``) read as a chain that loads rows? Read
    back through neutral methods (``.order_by(...)``) to an origin (``.query(``,
    ``.execute(``... only when the file may have a Session); not when one of them narrows,
    streams or is unknown, or the chain starts at a plain function's result, a subscript, a
    string, an attribute other than ``.query``, or a plain name when ``locals_`` is False
    (the chain reader follows a name only through its assignments in the same function,
    so one of them must hold an origin)."""
    while True:
        end = _back_space(code, dot)
        if end == 0:
            return True
        last = code[end - 1]
        if last == 41:  # ``)``: a call, or an expression in parentheses
            start = _matching(code, end - 1, -1)
            before = _back_space(code, start) if start > 0 else 0
            if before == 0:
                return True
            if not _is_word(code[before - 1]):
                return code[before - 1] not in b")]"
            word = _back_word(code, before)
            dotted = _back_space(code, word)
            if not (dotted and code[dotted - 1] == 46):
                return code[word:before] in _KEYWORDS  # ``return (...)``: in parentheses
            name = code[word:before]
            if name in _ORIGIN_METHODS and sessions:
                return True  # may be where the chain starts
            if name not in _NEUTRAL_METHODS:
                return False  # narrows, streams, or a method the chain reader refuses
            dot = dotted - 1
            continue
        if _is_word(last):
            word = _back_word(code, end)
            dotted = _back_space(code, word)
            return code[word:end] == b"query" if dotted and code[dotted - 1] == 46 else locals_
        return last not in b"]\"'\x01"  # a subscript or a string is no chain


def _iterates_query_call(code: bytes, match: "re.Match[bytes]", sessions: bool, locals_: bool) -> bool:
    """Does the call ``.method(...)`` at ``match`` end an iterable (``:``, a closing bracket,
    or a comprehension's ``if``/``for``) of a chain that may load rows? Only then can it be
    the iterable of a loop the rule reports."""
    close = _matching(code, match.end() - 1, 1)
    if close >= 0 and _ITERABLE_ENDS.match(code, close + 1) is None:
        return False
    name = match.group(1)
    if name in _ORIGIN_METHODS and sessions:
        return True
    return name in _NEUTRAL_METHODS and _receiver_may_load(code, match.start(), sessions, locals_)


def _may_load_all(f: Facts, p: Project) -> bool:
    if not _loads_query(f, p):
        return False
    return loads_here(f, _has_session(f, p))


def loads_here(f: Facts, sessions: bool) -> bool:
    """The places _may_load_all looks at: an ``.all()`` or a loop over a chain that may
    load rows. Also the hot places of SLA301 in one definition's text (``sessions``: True)."""
    if f.whole:
        return True  # read whole: comments and strings could mislead the bracket scans
    code, fstrings = f.flat
    if _ALL_CALL.search(fstrings) or _METHOD_CALL.search(fstrings):
        return True  # a chain inside an f-string's field: not in the flat code
    # A name can hold a chain only if an assignment here starts one (in a definition's
    # text: the same function; a file's screening has already asked for such a word).
    locals_ = not _ORIGIN.isdisjoint(f.code_words())
    return any(_receiver_may_load(code, m.start(), sessions, locals_) for m in _ALL_CALL.finditer(code)) or \
        not _FOR.isdisjoint(f.code_words()) and \
        any(_iterates_query_call(code, m, sessions, locals_) for m in _METHOD_CALL.finditer(code))


# -- conditions on the flat code (f-strings reduced to one byte: brackets match) ------------

_NAME = rb"[A-Za-z_\x80-\xff][\w\x80-\xff]*"


def _bare(name: bytes, before: bytes) -> bytes:
    """``name`` not preceded by a byte of the class ``before``. (The lookbehind comes after
    the literal: a pattern that starts with a literal is searched for much faster.)"""
    escaped = re.escape(name)
    return escaped + rb"(?<!" + before + escaped + rb")"


_SEP = rb"[\s\\]*"
_BRACKET_OR_LINE = re.compile(rb"[()\[\]{}\n;]")
_CONTINUED = re.compile(rb"\\\r?\Z")
# A name that is a whole argument of the call whose argument text is searched.
_WHOLE_ARG = re.compile(rb"(?:^|[(,=])[\s\\(]*(" + _NAME + rb")[\s\\)]*(?:,|$)", re.S)


def _closing(flat: bytes, i: int) -> int:
    """The index of the bracket closing the one opened at ``i``, or -1."""
    depth = 0
    for m in _BRACKET_OR_LINE.finditer(flat, i):
        byte = flat[m.start()]
        if byte in _OPEN:
            depth += 1
        elif byte in _CLOSE:
            depth -= 1
            if depth == 0:
                return m.start()
    return -1


def _statement_end(flat: bytes, i: int) -> int:
    """Where the expression starting at ``i`` ends at the latest: the end of its logical
    line, a ``;``, or a bracket closing one opened before it (a ``:=`` in brackets)."""
    depth = 0
    for m in _BRACKET_OR_LINE.finditer(flat, i):
        at = m.start()
        byte = flat[at]
        if byte in _OPEN:
            depth += 1
        elif byte in _CLOSE:
            depth -= 1
            if depth < 0:
                return at
        elif depth == 0 and (byte == 59 or not _CONTINUED.search(flat, max(at - 2, 0), at)):
            return at  # ``;``, or a line end without ``\``
    return len(flat)


def _args_of(flat: bytes, sinks: "re.Pattern[bytes]") -> Optional[list]:
    """The argument text of each call ``sinks`` finds (its match ends at the ``(``); None
    when a call is not closed (the scan is unsure)."""
    found = []
    for m in sinks.finditer(flat):
        close = _closing(flat, m.end() - 1)
        if close < 0:
            return None
        found.append(flat[m.end():close])
    return found


def _assigned(flat: bytes, name: bytes, value: "re.Pattern[bytes]") -> bool:
    """Is ``name`` assigned (``=``, ``:=``) something that ``value`` matches the start of?"""
    target = re.compile(_bare(name, rb"[\w.\x80-\xff]") + _SEP + rb":?=(?!=)")
    for m in target.finditer(flat):
        if value.match(flat, m.end(), _statement_end(flat, m.end())) is not None:
            return True
    return False


def _args_reach(f: Facts, sinks: "re.Pattern[bytes]", direct: "re.Pattern[bytes]",
                assigned: "re.Pattern[bytes]") -> bool:
    """Does a call found by ``sinks`` get an argument text in which ``direct`` is found, or
    a whole argument that is a name assigned a value ``assigned`` matches the start of?"""
    flat, fstrings = f.flat
    if sinks.search(fstrings) is not None:
        return True  # a call inside an f-string's field: not in the flat code
    args = _args_of(flat, sinks)
    if args is None:
        return True
    names = set()
    for text in args:
        if direct.search(text) is not None:
            return True
        names.update(_WHOLE_ARG.findall(text))
    return any(_assigned(flat, name, assigned) or _assigned(fstrings, name, assigned) for name in names)


# The receiver of an execute must be a Session, Connection, Engine or registry
# (sqltext.RECEIVER_KINDS): each comes from SQLAlchemy's API, a project name, or Flask's
# ``db.session``/``db.engine`` (alembic's ``op.execute`` is none of them).
_RECEIVER = ["session_words", _SESSION_API, _ENGINE_API, _words(["session", "engine"])]
_has_receiver = _all_of(_RECEIVER)

# SLA401 (sqltext.built_string, execution, is_text_call, local_value): a string built from
# values (an f-string, a literal beside ``%``/``+``/``.format``) given to ``text(`` (or a
# name ``text`` is imported as) or, when the file may have a receiver, to ``.execute(`` or
# ``.exec_driver_sql(``; or a name given to one and assigned such a string.
_BUILT_TEXT = rb"\x01|[\"'][\s\\)]*(?:%|\+|\.[\s\\]*format(?![\w]))|\+[\s\\(]*(?:[rRbBuU]{1,2})?[\"'\x01]"
_BUILT_FLAT = re.compile(_BUILT_TEXT)
_HOLDS_BUILT = re.compile(rb".*?(?:" + _BUILT_TEXT + rb")", re.S)
_TEXT_ALIAS = re.compile(rb"text(?<![\w]text)" + _SEP + rb"as" + _SEP + rb"(" + _NAME + rb")")
_EXECUTE_SINK = rb"\." + _SEP + rb"(?:execute|exec_driver_sql)" + _SEP + rb"\(|"


def _sql_sinks(aliases: Sequence[bytes], receivers: bool) -> "re.Pattern[bytes]":
    names = b"|".join(_bare(a, rb"[\w\x80-\xff]") for a in (b"text", *aliases))
    return re.compile((_EXECUTE_SINK if receivers else b"") + rb"(?:" + names + rb")" + _SEP + rb"\(")


_SQL_SINKS = {True: _sql_sinks((), True), False: _sql_sinks((), False)}
_executes_or_text = _all_of([_TEXT, (_EXECUTE_ANY, _called_attr(*sorted(EXECUTE_METHODS)))], [(None, _BUILT)])


def _sql_from_strings(f: Facts, p: Project) -> bool:
    if not _executes_or_text(f, p):
        return False
    if f.whole:
        return True
    aliases = _TEXT_ALIAS.findall(f.code)
    receivers = _has_receiver(f, p)
    sinks = _sql_sinks(aliases, receivers) if aliases else _SQL_SINKS[receivers]
    return _args_reach(f, sinks, _BUILT_FLAT, _HOLDS_BUILT)


# SLA302 (queries.len_call_of): ``.all()`` as the whole argument of a ``len(...)`` call.
_LEN_SINKS = re.compile(_bare(b"len", rb"[\w.\x80-\xff]") + _SEP + rb"\(")
_ALL_WHOLE = re.compile(rb"\." + _SEP + rb"all" + _SEP + rb"\(" + _SEP + rb"\)[\s\\)]*,?" + _SEP + rb"$")
_NOTHING = re.compile(rb"(?!)")
_loads_len = _all_of([_ORIGIN], [_LEN], [_ALL])


def _len_of_all(f: Facts, p: Project) -> bool:
    if not _loads_len(f, p):
        return False
    return f.whole or _args_reach(f, _LEN_SINKS, _ALL_WHOLE, _NOTHING)


# SLA201: a functools cache decorator (``cache``/``lru_cache``, or a name one is imported
# as), and a Session source (a SQLAlchemy/project name, or Flask's ``.session``).
_CACHE_ALIAS = re.compile(rb"cache(?:(?<![\w]cache)|(?<=(?<![\w])lru_cache))" + _SEP + rb"as" + _SEP
                          + rb"(" + _NAME + rb")")
_DECORATOR = re.compile(rb"@[\s\\(]*(?:" + _NAME + rb"[\s\\)]*\." + _SEP + rb")*(" + _NAME + rb")")
_SESSION_WORD = _words(["session"])
_caches = _all_of([_CACHE], ["session_words", _SESSION_API, _SESSION_WORD])


def _cached_session(f: Facts, p: Project) -> bool:
    if not _caches(f, p):
        return False
    code = f.code
    caches = {b"cache", b"lru_cache", *_CACHE_ALIAS.findall(code)}
    return f.whole or any(name in caches for name in _DECORATOR.findall(code))


# SLA102 (concurrency: PROCESS_CLASSES, PROCESS_POOLS, FORKS, get_context().Process/Pool,
# all imported from these modules) and a pooled engine (an engine constructor, a session
# factory bound to one, or a project name).
_FORKING = _words(["fork", "forkpty", "Process", "BaseProcess", "ProcessPoolExecutor", "Pool"])
_FORK_MODULES = _words(["multiprocessing", "billiard", "concurrent", "os"])


# SLA402 (sqltext.statement_arg, module_string, execution): ``.execute(`` given a plain
# string literal as its statement (first, or ``statement=``), or a name assigned one.
_PLAIN_START = rb"[\s\\(]*[rRbBuU]{0,2}[\"']"
_STRING_STATEMENT = re.compile(rb"^" + _PLAIN_START + rb"|(?:^|,)" + _SEP + rb"statement" + _SEP + rb"=" + _PLAIN_START)
_EXECUTE_SINKS = re.compile(rb"\." + _SEP + rb"execute" + _SEP + rb"\(")
_executes = _all_of([(_words(["execute"]), _called_attr("execute"))], _RECEIVER)


def _executes_string(f: Facts, p: Project) -> bool:
    if not _executes(f, p):
        return False
    return f.whole or _args_reach(f, _EXECUTE_SINKS, _STRING_STATEMENT, re.compile(_PLAIN_START))


# Necessary conditions by rule code: False means the rule cannot report on the file.
NECESSARY: dict[str, Callable[[Facts, Project], bool]] = {
    # An engine made per call is made in a function: module-level engines are the fix.
    "SLA101": _all_of(["engine_words", _ENGINE_API], [_FUNCTION]),
    "SLA102": _all_of([_FORKING], [_FORK_MODULES], ["engine_words", _ENGINE_API, _SESSION_API]),
    "SLA201": _cached_session,
    "SLA202": _all_of(["session_words", _SESSION_API]),
    "SLA203": _all_of(["session_words", _SESSION_API]),
    "SLA204": _all_of(["session_words", _SESSION_API]),
    "SLA205": _all_of(["session_words", _SESSION_API]),
    "SLA206": _all_of(["session_words", _SESSION_API]),
    # queries.ChainReader: a query origin, a mapped model (a class defined here or a name
    # the index knows), and ``.all()`` or a loop.
    "SLA301": _may_load_all,
    "SLA302": _len_of_all,
    "SLA401": _sql_from_strings,
    "SLA402": _executes_string,
    # The legacy module path, in an import.
    "SLA502": _all_of([_DECLARATIVE], [(_words(["sqlalchemy"]), _LEGACY_MODULE)]),
}


_PROJECT_MEMO: dict[tuple[int, int], Project] = {}
# Project names that cannot give a non-Flask Session or an Engine: models, bases, the
# Flask-SQLAlchemy extension (its session is Flask-managed, which the session rules skip).
_NOT_SESSIONS = ("MODEL", "BASE", "FLASK_DB")


def project_names(settings: Any, index: Any) -> Project:
    """The names ``settings`` and ``index`` say the project defines."""
    key = (id(settings), id(index))
    if key not in _PROJECT_MEMO:
        names = {q.rpartition(".")[2] for q in (*settings.session_factories, *settings.engine_factories)}
        known = set(names)
        if index is not None:
            known.update(index.trigger_names())
            facts = getattr(index, "facts", None)
            if facts is not None:
                names.update(q.rpartition(".")[2] for q, value, *_ in facts()
                             if value.kind.name not in _NOT_SESSIONS)
            else:
                names.update(index.trigger_names())
        _PROJECT_MEMO.clear()
        _PROJECT_MEMO[key] = Project(frozenset(names), frozenset(known))
    return _PROJECT_MEMO[key]


# Each rule runs only on a file whose bytes hold one of its triggers (``Rule.triggers``).
# Kept here, with the conditions, so that skipping a file imports neither a rule nor libcst.
TRIGGERS: dict[str, tuple[bytes, ...]] = {
    "SLA101": (b"engine",),
    "SLA102": (b"fork", b"Pool", b"Process"),
    "SLA201": (b"cache",),
    "SLA202": (b"Session", b"session", b"sessionmaker"),
    "SLA203": (b"Thread", b"Timer", b"Executor", b"executor", b"Pool", b"run_in_executor", b"to_thread",
               b"add_done_callback"),
    "SLA204": (b"Session", b"session"),
    "SLA205": (b"scoped_session",),
    "SLA206": (b"sessionmaker", b"scoped_session"),
    "SLA301": (b".all(", b"for "),
    "SLA302": (b"len(",),
    "SLA401": (b"execute", b"exec_driver_sql", b"text"),
    "SLA402": (b"execute",),
    "SLA501": (b"MetaData", b"declarative_base"),
    "SLA502": (b"declarative",),
}


def triggers_of(rule: Any) -> tuple[bytes, ...]:
    """The triggers of a rule, or of a rule code."""
    return rule.triggers if hasattr(rule, "triggers") else TRIGGERS[rule]


# Rules that report what a call of an opener gives (``db = get_db()``): the name of a project
# opener (ProjectIndex.opener_names) counts as a trigger of theirs.
_OPENER_TRIGGERED = frozenset({"SLA202", "SLA204"})


def worth_parsing(text: Union[str, bytes, "Facts"], rules: Iterable[Any], extra: Sequence[str] = (),
                  openers: frozenset = frozenset()) -> bool:
    """Can any of ``rules`` (rules, or codes) match? A byte search, 1000x cheaper than a
    parse: the file must name SQLAlchemy (or a project-defined engine, factory or model:
    ``extra``, as a word) and hold one of the triggers of a selected rule (or, for some,
    one of the words ``openers``)."""
    facts = text if isinstance(text, Facts) else facts_of(text)
    data = facts.raw
    return (sqla.names_sqlalchemy(data) or _names_any(facts, extra)) and \
        any(_triggered(facts, rule, openers) for rule in rules)


def _triggered(facts: "Facts", rule: Any, openers: frozenset) -> bool:
    if any(t in facts.raw for t in triggers_of(rule)):
        return True
    return bool(openers) and getattr(rule, "code", rule) in _OPENER_TRIGGERED and \
        not openers.isdisjoint(facts.raw_words())


_OPENERS_MEMO: dict[tuple[int, int], frozenset] = {}


def opener_words(settings: Any, index: Any) -> frozenset:
    """The words of the project's openers (configured session factories, and the index's)."""
    key = (id(settings), id(index))
    if key not in _OPENERS_MEMO:
        names = [q.rpartition(".")[2] for q in settings.session_factories]
        if index is not None:
            names.extend(index.opener_names())
        _OPENERS_MEMO.clear()
        _OPENERS_MEMO[key] = _words(names)
    return _OPENERS_MEMO[key]


_EXTRA_MEMO: list = [None, frozenset(), ()]  # the last ``extra`` seen: its ASCII words, other names


def _names_any(facts: "Facts", extra: Sequence[str]) -> bool:
    """Does the text use one of the identifiers ``extra``? One set intersection with the
    words of the text rather than a search per name (an index knows hundreds)."""
    if not extra:
        return False
    if _EXTRA_MEMO[0] is not extra:
        ascii_names = frozenset(n.encode() for n in extra if n.isascii())
        _EXTRA_MEMO[:] = [extra, ascii_names, tuple(n.encode() for n in extra if not n.isascii())]
    return not _EXTRA_MEMO[1].isdisjoint(facts.raw_words()) or any(n in facts.raw for n in _EXTRA_MEMO[2])


def passing(source: Union[str, bytes], rules: Sequence[Any], settings: Any, index: Any) -> list:
    """Those of ``rules`` (rules, or codes) that may report on ``source``: the byte
    triggers, then (unless SQLALINT_NO_PREFILTER) each rule's condition; everything decided
    before libcst. The others need not run."""
    extra = index.trigger_names() if index is not None else ()
    facts = facts_of(source)
    openers = opener_words(settings, index)
    if not rules or not worth_parsing(facts, rules, extra, openers):
        return []
    if not enabled():
        return [rule for rule in rules if _triggered(facts, rule, openers)]
    project = project_names(settings, index)
    return [rule for rule in rules if could_match(facts, [rule], project, openers)]


def enabled() -> bool:
    return os.environ.get("SQLALINT_NO_PREFILTER", "") == ""


def could_match(source: Union[str, bytes, Facts], rules: Sequence[Any],
                project: Union[Project, Iterable[str]], openers: frozenset = frozenset()) -> bool:
    """False only when every rule in ``rules`` (codes, or rules) whose byte triggers
    ``source`` holds provably cannot report on it. Triggers are looked for only once a
    rule's condition holds (few files get that far)."""
    facts = source if isinstance(source, Facts) else facts_of(source)
    found = as_project(project)
    for rule in rules:
        code = getattr(rule, "code", rule)
        check = NECESSARY.get(code)
        if (check is None or check(facts, found)) and _triggered(facts, rule, openers):
            return True
    return False
