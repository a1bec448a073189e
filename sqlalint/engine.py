"""``check_source`` and ``fix_source``: pure functions from source text to findings and fixes.

One libcst parse and one traversal (building the :class:`Model`) per file, then every
selected rule queries the model. Files whose text holds none of the selected rules'
triggers are never parsed.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
import traceback
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Optional, Sequence

import libcst as cst

from sqlalint import prefilter, pruning
from sqlalint.config import Settings
from sqlalint.context import Context
from sqlalint.diagnostics import (  # noqa: F401 (re-exported: sqlalint.engine.Diagnostic...)
    PARSE_ERROR, Diagnostic, InternalError, ResolvedFix, applicable, parse_error)
from sqlalint.infer import Inference
from sqlalint.model import Model
from sqlalint.pruning import Pruned
from sqlalint.rule import Edit, Fix, Report, Rule
from sqlalint.rules import ALL_RULES
from sqlalint.suppress import Suppressions

if TYPE_CHECKING:
    from sqlalint.index import ProjectIndex

MAX_FIX_PASSES = 10


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[InternalError] = field(default_factory=list)
    parsed: bool = False  # False when skipped for lack of triggers, or unparseable


class RuleCrash(Exception):
    pass


def syntax_error(path: str, source: str, error: cst.ParserSyntaxError) -> Diagnostic:
    """SLA001 at Python's own line, column and message: libcst's native parser often points
    a line late. When Python accepts what libcst rejects, say that it is libcst's limit."""
    try:
        compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as python_error:
        line = python_error.lineno or 1
        column = max(python_error.offset or 1, 1)
        return parse_error(path, line, column, f"syntax error: {python_error.msg}")
    except (ValueError, RecursionError, MemoryError):
        pass
    return parse_error(path, error.raw_line, error.raw_column + 1,
                       f"cannot parse (libcst): {error.message}; not analysed")


# libcst's parse time grows much faster than linearly with nesting (a chain of 4,000 `+` takes
# it 50 s) and the model recurses: past this depth a file is reported, not parsed.
MAX_DEPTH = 400
_LONG_LINE = re.compile(r"[^\n]{2000}")


def too_deep(source: str) -> Optional[int]:
    """The line of an expression nested deeper than MAX_DEPTH, checked with Python's own
    (C) parser, only in files with a very long line (the only place such nesting is found
    in practice: generated code). None when fine, or when it is not valid Python."""
    if not _LONG_LINE.search(source):
        return None
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError):  # too deep for Python itself
        return longest_statement(source)
    except (SyntaxError, ValueError):
        return None
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return getattr(node, "lineno", 1)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None


def longest_statement(source: str) -> int:
    """The first line of the statement with the most tokens: where a parser that ran out of
    stack was, without a parse (tokenize does not recurse)."""
    best, most, start, count = 1, 0, 0, 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            start, count = start or token.start[0], count + 1
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if count > most:
                    best, most = start, count
                start, count = 0, 0
    except (tokenize.TokenError, SyntaxError):
        pass
    return best


def selected_rules(settings: Settings, path: str) -> list[Rule]:
    codes = settings.selected([r.code for r in ALL_RULES], path)
    return [r for r in ALL_RULES if r.code in codes]


def lint_source(source: str, path: str = "<stdin>", settings: Optional[Settings] = None,
                index: Optional["ProjectIndex"] = None, module_name: str = "",
                is_package: bool = False, rules: Optional[Sequence[Rule]] = None, *,
                noqa: bool = True, tree: Optional[cst.Module] = None, screened: bool = False,
                prune: bool = False) -> LintResult:
    """``noqa=False`` reports suppressed findings too (for front ends that apply their own
    noqa, such as flake8). ``tree``: ``source`` already parsed (fixing parses each result
    to check it, and lints that tree). ``screened``: ``rules`` are those that
    :func:`sqlalint.prefilter.passing` kept (the runner asks it before importing this
    module). ``prune``: analyse only what these rules can report on (:mod:`sqlalint.pruning`;
    the findings are the same, the fixes' edits too)."""
    settings = settings or Settings()
    rules = selected_rules(settings, path) if rules is None else rules
    result = LintResult()
    if not screened:
        rules = prefilter.passing(source, rules, settings, index)
        if not rules:
            return result
    size = len(source) if source.isascii() else len(source.encode("utf-8", "surrogatepass"))
    if settings.max_file_size and size > settings.max_file_size:
        result.diagnostics.append(parse_error(
            path, 1, 1, f"not analysed: {size:,} bytes is over max-file-size ({settings.max_file_size:,}); "
                        "raise it in [tool.sqlalint] to analyse this file"))
        return result
    deep = too_deep(source)
    if deep is not None:
        result.diagnostics.append(parse_error(path, deep, 1, "too deeply nested to analyse; not analysed"))
        return result
    analysed, pruned = source, None
    if prune and tree is None and pruning.enabled():
        hot = pruning.hot_pattern([rule.code for rule in rules], prefilter.project_names(settings, index))
        if hot is not None:
            pruned = pruning.prune(source, hot)
            if pruned is None:
                return result  # nothing in it that these rules can report on
            analysed = pruned.text
    as_it_is = dict(noqa=noqa, screened=True)
    try:
        tree = parse_unvalidated(analysed) if tree is None else tree
    except cst.ParserSyntaxError as error:
        if analysed is not source:  # libcst's own limit, maybe in what was cut: say it as it is
            return lint_source(source, path, settings, index, module_name, is_package, rules, **as_it_is)
        result.diagnostics.append(syntax_error(path, source, error))
        return result
    except RecursionError:
        result.diagnostics.append(parse_error(path, longest_statement(source), 1,
                                              "too deeply nested for the parser; not analysed"))
        return result
    result.parsed = True
    try:
        model = Model(tree, module_name, is_package)
    except RecursionError:
        result.diagnostics.append(parse_error(path, longest_statement(source), 1,
                                              "too deeply nested to analyse; not analysed"))
        return result
    inference = Inference(model, index, settings.session_factories, settings.engine_factories)
    context = Context(analysed, tree, model, inference, settings, path, pruned.tree if pruned else None)
    suppressions: Optional[Suppressions] = None
    seen: set[tuple[str, int]] = set()
    for rule in rules:
        try:
            reports = list(rule.check(context))
            resolved = [_diagnostic(rule, report, context) for report in reports]
        except RecursionError:  # nesting deeper than libcst's code generation can recurse
            result.diagnostics = [parse_error(path, longest_statement(source), 1,
                                              "too deeply nested to analyse; not analysed")]
            result.errors = []
            return result
        except Exception as error:  # a bug in a rule must not stop the run
            where = traceback.extract_tb(error.__traceback__)[-1]
            result.errors.append(InternalError(
                path, rule.code, f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})"))
            continue
        for report, diagnostic in zip(reports, resolved):
            key = (diagnostic.code, id(report.node))
            if key in seen:  # one finding per offending node
                continue
            seen.add(key)
            if not noqa:
                result.diagnostics.append(diagnostic)
                continue
            if suppressions is None:
                suppressions = Suppressions(analysed)  # the same lines, comments and statements
            if not suppressions.suppressed(diagnostic.line, diagnostic.code):
                result.diagnostics.append(diagnostic)
    if analysed is not source:
        found = _unpruned_fixes(result.diagnostics, pruned)  # type: ignore[arg-type]
        if found is None:  # a fix reaches into what was cut: analyse it all
            return lint_source(source, path, settings, index, module_name, is_package, rules, **as_it_is)
        result.diagnostics = found
    result.diagnostics.sort(key=lambda d: (d.line, d.column, d.code))
    return result


def _unpruned_fixes(diagnostics: list[Diagnostic], pruned: Pruned) -> Optional[list[Diagnostic]]:
    """``diagnostics`` with their fixes' edits at the original's offsets (lines and columns
    are the same); None when an edit holds any of a stub."""
    found = []
    for diagnostic in diagnostics:
        if diagnostic.fix is not None:
            edits = []
            for edit in diagnostic.fix.edits:
                span = pruned.original_span(edit.start, edit.end)
                if span is None:
                    return None
                edits.append(Edit(span[0], span[1], edit.content))
            diagnostic = replace(diagnostic, fix=replace(diagnostic.fix, edits=tuple(edits)))
        found.append(diagnostic)
    return found


def check_source(source: str, path: str = "<stdin>", settings: Optional[Settings] = None,
                 index: Optional["ProjectIndex"] = None, module_name: str = "") -> list[Diagnostic]:
    """The findings for one module's source text. Raises :class:`RuleCrash` on a rule bug."""
    result = lint_source(source, path, settings, index, module_name)
    if result.errors:
        error = result.errors[0]
        raise RuleCrash(f"{error.path}: {error.code}: {error.message}")
    return result.diagnostics


def _diagnostic(rule: Rule, report: Report, context: Context) -> Diagnostic:
    code_range = context.range(report.node)
    fix = _resolve_fix(report.fix, context) if report.fix is not None else None
    return Diagnostic(rule.code, report.message, context.path,
                      code_range.start.line, code_range.start.column + 1,
                      code_range.end.line, code_range.end.column + 1, fix, rule.name)


def _resolve_fix(fix: Fix, context: Context) -> ResolvedFix:
    edits = list(fix.edits)
    original = context.source
    for old, new in fix.changes:
        replacement = context.replacement(old, new)
        if replacement is None:
            rendered = context.tree.deep_replace(old, new).code  # type: ignore[arg-type]
            edits.append(_minimal_edit(original, rendered))
        else:
            start, end, text = replacement
            edits.append(_minimal_edit_within(original, start, end, text))
    edits.sort(key=lambda e: (e.start, e.end))
    return ResolvedFix(fix.message, fix.applicability, tuple(edits))


def _minimal_edit_within(source: str, start: int, end: int, text: str) -> Edit:
    """``source[start:end]`` becomes ``text``, as the smallest span that changes."""
    edit = _minimal_edit(source[start:end], text)
    return Edit(start + edit.start, start + edit.end, edit.content)


def _minimal_edit(before: str, after: str) -> Edit:
    """The single span where ``after`` differs from ``before``."""
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    return Edit(prefix, len(before) - suffix, after[prefix:len(after) - suffix])


# -- fixing ------------------------------------------------------------------------------

@dataclass
class FixResult:
    source: str
    applied: int  # how many fixes were applied
    result: LintResult  # what remains after fixing
    rejected: list[str] = field(default_factory=list)  # fixes dropped because the result did not parse


def apply_fixes(source: str, fixes: Sequence[ResolvedFix]) -> tuple[str, list[ResolvedFix]]:
    """Apply the fixes whose edits overlap no earlier fix; return the text and those applied."""
    taken: list[tuple[int, int]] = []
    chosen: list[ResolvedFix] = []
    for fix in sorted(fixes, key=lambda f: (f.edits[0].start, f.edits[0].end)):
        spans = [(e.start, e.end) for e in fix.edits]
        if any(s < te and ts < e or (s == e == ts == te) for s, e in spans for ts, te in taken):
            continue
        taken.extend(spans)
        chosen.append(fix)
    edits = sorted((e for f in chosen for e in f.edits), key=lambda e: (e.start, e.end), reverse=True)
    text = source
    for edit in edits:
        text = text[:edit.start] + edit.content + text[edit.end:]
    return text, chosen


# libcst validates each node as it is built (``CSTNode.__post_init__``): about an eighth of a
# parse, for nodes its own parser builds valid. Analysis skips that; fixed text is still
# parsed with it (``parsed``), and the nodes rules build are still validated.
_VALIDATE = getattr(cst.CSTNode, "__post_init__", None)


def _valid_by_construction(node: object) -> None:
    pass


def parse_unvalidated(source: str) -> cst.Module:
    """``cst.parse_module(source)`` without per-node validation. (The switch is global while
    it parses: nodes another thread builds meanwhile go unvalidated too.)"""
    if _VALIDATE is None:
        return cst.parse_module(source)
    cst.CSTNode.__post_init__ = _valid_by_construction  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        cst.CSTNode.__post_init__ = _VALIDATE  # type: ignore[method-assign]


def parses(source: str) -> bool:
    return parsed(source) is not None


def parsed(source: str) -> Optional[cst.Module]:
    """The tree of ``source``, None when it does not parse."""
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        return None


def fix_source(source: str, path: str = "<stdin>", settings: Optional[Settings] = None, *,
               unsafe: bool = False, index: Optional["ProjectIndex"] = None, module_name: str = "",
               is_package: bool = False) -> FixResult:
    """Apply fixes and re-lint until nothing more applies (at most MAX_FIX_PASSES times).

    A batch of fixes whose result does not parse is retried one fix at a time; a fix that
    still breaks the syntax is dropped and named in ``rejected``.
    """
    settings = settings or Settings()
    rules = selected_rules(settings, path)
    applied = 0
    rejected: list[str] = []
    refused: set[tuple[str, int, int]] = set()
    result = lint_source(source, path, settings, index, module_name, is_package, rules)
    for _ in range(MAX_FIX_PASSES):
        if result.errors:
            break
        candidates = [d for d in result.diagnostics if applicable(d, unsafe)
                      and (d.code, d.line, d.column) not in refused]
        if not candidates:
            break
        text, chosen = apply_fixes(source, [d.fix for d in candidates])  # type: ignore[misc]
        tree = parsed(text)
        if tree is None:
            # Some fix breaks the syntax: try the first alone, drop it if it is the culprit.
            first = candidates[0]
            text, chosen = apply_fixes(source, [first.fix])  # type: ignore[list-item]
            tree = parsed(text)
            if tree is None:
                refused.add((first.code, first.line, first.column))
                rejected.append(f"{path}:{first.line}:{first.column}: {first.code}: "
                                "fix not applied: the result would not parse")
                continue
        if text == source:
            break
        source = text
        applied += len(chosen)
        result = lint_source(source, path, settings, index, module_name, is_package, rules, tree=tree)
    return FixResult(source, applied, result, rejected)
