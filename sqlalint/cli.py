"""The command line: ``sqlalint check``, ``rules``, ``explain``. Click lives only here."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import click

from sqlalint import __version__
from sqlalint.cache import ContentHashes, LazyIndex, ResultCache, default_folder
from sqlalint.config import ConfigError, Settings, load_settings, with_overrides
from sqlalint.files import Discovery, discover
from sqlalint.output import FORMATS, format_statistics
from sqlalint.progress import progress
from sqlalint.runner import FileReport, Mode, import_engine_meanwhile, process_stdin, run

# The rules, the index and libcst are imported where needed, not here: a fully cached run
# never needs them, and importing libcst alone costs about 0.2 s.

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(value: Optional[str], option: str) -> Optional[tuple[str, ...]]:
    if value is None:
        return None
    from sqlalint.rules import ALL_CODES

    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    for code in codes:
        if code != "ALL" and not any(known.startswith(code) for known in ALL_CODES):
            raise click.UsageError(f"{option}: unknown rule code or prefix {code!r}")
    return tuple("SLA" if c == "ALL" else c for c in codes)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqlalint")
def cli() -> None:
    """A linter, with fixes, for SQLAlchemy mistakes that only show up under load."""


@cli.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--fix/--no-fix", default=False, help="Apply safe fixes.")
@click.option("--unsafe-fixes/--no-unsafe-fixes", default=None, help="Also apply (and show) unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--output-format", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
@click.option("--statistics", is_flag=True, help="Print counts per rule code instead of findings.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read settings from this TOML file instead of the nearest pyproject.toml.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--select", help="Comma-separated codes or prefixes to enable (replaces the configured set).")
@click.option("--extend-select", help="Comma-separated codes or prefixes to enable in addition.")
@click.option("--ignore", help="Comma-separated codes or prefixes to disable.")
@click.option("--stdin-filename", help="The path to report for source read from stdin (`-`).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep the cache (default: .sqlalint_cache at the project root).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Processes for large runs (default: the CPUs).")
def check(paths: Sequence[str], fix: bool, unsafe_fixes: Optional[bool], diff: bool, output_format: str,
          statistics: bool, config_file: Optional[Path], isolated: bool, select: Optional[str],
          extend_select: Optional[str], ignore: Optional[str], stdin_filename: Optional[str],
          exit_zero: bool, quiet: bool, no_cache: bool = False, cache_dir: Optional[Path] = None,
          jobs: Optional[int] = None) -> None:
    """Lint PATHS (files or folders; default: the current folder; `-` for stdin)."""
    paths = tuple(paths) or (".",)
    first = Path(stdin_filename) if (paths == ("-",) and stdin_filename) else Path(paths[0] if paths[0] != "-" else ".")
    try:
        settings = load_settings(config_file, search_from=first if first.exists() else Path.cwd(),
                                 isolated=isolated)
    except ConfigError as error:
        click.echo(f"sqlalint: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    settings = with_overrides(settings, select=_codes(select, "--select"), ignore=_codes(ignore, "--ignore"),
                              extend_select=_codes(extend_select, "--extend-select"))
    unsafe = settings.unsafe_fixes if unsafe_fixes is None else unsafe_fixes
    mode = Mode.DIFF if diff else Mode.FIX if fix else Mode.CHECK
    folder = None if no_cache else (cache_dir or default_folder(settings.root))
    hashes = ContentHashes(folder)
    # One discovery when the paths are the project itself (`sqlalint check .` at the root):
    # the index and the run share it.
    found: Optional[Discovery] = None
    if paths != ("-",) and len(paths) == 1 and Path(paths[0]).is_dir() and \
            Path(paths[0]).resolve() == Path(settings.root).resolve():
        found = discover(paths, settings)
    shared = found
    index = LazyIndex(settings, lambda: shared.files if shared is not None else discover(
        [str(settings.root)], settings).files, folder, hashes, jobs)

    if paths == ("-",):
        raw = sys.stdin.buffer.read()
        report = process_stdin(raw, stdin_filename or "<stdin>", settings, mode, unsafe, index)
        reports = [report]
        if mode is Mode.FIX:
            # The fixed source goes to stdout (unchanged bytes when nothing was fixed);
            # what remains goes to stderr.
            sys.stdout.buffer.write(raw if report.fixed_bytes is None else report.fixed_bytes)
            sys.stdout.flush()
            _finish(reports, settings, output_format, unsafe, statistics, quiet, exit_zero, err=True)
        _finish(reports, settings, output_format, unsafe, statistics, quiet, exit_zero)

    found = found or discover(paths, settings)
    for missing in found.missing:
        click.echo(f"sqlalint: error: {missing}: no such file or directory", err=True)
    if found.missing:
        sys.exit(EXIT_ERROR)
    cache = None
    if folder is not None and mode is Mode.CHECK:
        import_engine_meanwhile(index, len(found.files), jobs)  # the fingerprint may build the index
        cache = ResultCache(folder, settings, index.fingerprint(), hashes)
    with progress(len(found.files), output_format) as on_file_done:
        reports = run(found.files, settings, mode, unsafe, index, cache=cache, jobs=jobs, on_file_done=on_file_done)
    if mode is Mode.DIFF:
        for report in reports:
            click.echo(report.diff, nl=False)
        for report in reports:
            for message in report.messages:
                click.echo(f"sqlalint: {message}", err=True)
        if any(r.errors for r in reports):
            _print_internal_errors(reports)
            sys.exit(EXIT_ERROR)
        changed = sum(1 for r in reports if r.diff)
        fixes = sum(r.fixed for r in reports)
        if not quiet:
            click.echo(f"Would fix {fixes} error{'s' * (fixes != 1)} in {changed} file{'s' * (changed != 1)}."
                       if changed else "No fixes available.", err=True)
        sys.exit(EXIT_FINDINGS if changed and not exit_zero else EXIT_CLEAN)
    _finish(reports, settings, output_format, unsafe, statistics, quiet, exit_zero)


def _print_internal_errors(reports: Sequence[FileReport]) -> None:
    for report in reports:
        for error in report.errors:
            click.echo(f"sqlalint: internal error in rule {error.code} on {error.path}: {error.message}. "
                       "Please report it; the other rules and files were still checked.", err=True)


def _finish(reports: Sequence[FileReport], settings: Settings, output_format: str, unsafe: bool,
            statistics: bool, quiet: bool, exit_zero: bool, err: bool = False) -> None:
    for report in reports:
        for message in report.messages:
            click.echo(f"sqlalint: {message}", err=True)
    fixed = sum(r.fixed for r in reports)
    stream = sys.stderr if err else sys.stdout
    color = output_format == "text" and stream.isatty()
    if statistics:
        text = format_statistics(reports, unsafe=unsafe)
    else:
        formatter = FORMATS[output_format]
        text = formatter(reports, unsafe=unsafe, color=color, fixed=fixed, show_summary=not quiet)
    click.echo(text, nl=False, err=err, color=color)
    _print_internal_errors(reports)
    if any(r.errors for r in reports):
        sys.exit(EXIT_ERROR)
    remaining = sum(len(r.diagnostics) for r in reports)
    sys.exit(EXIT_FINDINGS if remaining and not exit_zero else EXIT_CLEAN)


@cli.command("index")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read settings from this TOML file instead of the nearest pyproject.toml.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the index cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep the cache (default: .sqlalint_cache at the project root).")
def index_command(path: Optional[Path], config_file: Optional[Path], isolated: bool, no_cache: bool,
                  cache_dir: Optional[Path]) -> None:
    """Print what the project index inferred about the project holding PATH: engines,
    session factories, models... each with file:line."""
    from sqlalint.index import describe_fact, project_index

    try:
        settings = load_settings(config_file, search_from=path or Path.cwd(), isolated=isolated)
    except ConfigError as error:
        click.echo(f"sqlalint: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    index = project_index(settings, no_cache=no_cache, cache_dir=cache_dir)
    shown = 0
    for qualified, value, where_path, where_line, imported in index.facts():
        if imported and not where_path.endswith("__init__.py"):
            continue  # a plain import, not a package's re-export
        text, defined = describe_fact(index, qualified, value)
        here = f"{where_path}:{where_line}"
        click.echo(f"{here}: {text}" + (f" (re-exported from {defined})" if imported else ""))
        shown += 1
    click.echo(f"{shown} names from {index.files_parsed} of {index.files_total} files under {settings.root}",
               err=True)


@cli.command()
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List every rule: code, name, fixability."""
    from sqlalint.rules import ALL_RULES

    if output_format == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "summary": r.summary,
                                "fix": r.fixable.value if r.fixable else None} for r in ALL_RULES], indent=2))
        return
    for rule in ALL_RULES:
        fix = f"fix: {rule.fixable.value}" if rule.fixable else "no fix"
        click.echo(f"{rule.code}  {rule.name:<28} {fix:<17} {rule.summary}")


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of the rule CODE (or its name)."""
    from sqlalint.rules import ALL_RULES, RULES_BY_CODE

    wanted = code.strip()
    rule = RULES_BY_CODE.get(wanted.upper()) or next((r for r in ALL_RULES if r.name == wanted), None)
    if rule is None:
        click.echo(f"sqlalint: error: unknown rule {code!r}; `sqlalint rules` lists them", err=True)
        sys.exit(EXIT_ERROR)
    fix = rule.fixable.value if rule.fixable else "none"
    click.echo(f"# {rule.name} ({rule.code})\n\nFix: {fix}\n\n{rule.documentation()}")


@cli.command("table-sizes")
@click.option("--url", required=True, help="SQLAlchemy database URL (PostgreSQL, MySQL/MariaDB, SQLite).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON here (the `table-sizes` setting reads it); default: stdout.")
def table_sizes(url: str, output: Optional[Path]) -> None:
    """Read row estimates of every table of a real database into JSON."""
    from sqlalint.table_sizes import TableSizesError, read_table_sizes, to_json

    try:
        text = to_json(read_table_sizes(url))
    except TableSizesError as error:
        click.echo(f"sqlalint: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        click.echo(f"sqlalint: error: cannot write {output}: {error.strerror}", err=True)
        sys.exit(EXIT_ERROR)


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="sqlalint", standalone_mode=True)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else EXIT_ERROR)
    return EXIT_CLEAN
