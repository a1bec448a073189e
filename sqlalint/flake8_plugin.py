"""The flake8 plugin (entry point ``SLA``): a report-only adapter over the engine.

It reports what ``sqlalint check`` reports (same codes, lines, columns) for every rule, and
leaves what flake8 owns to flake8: selection (``--select``/``--ignore``/``per-file-ignores``),
``# noqa`` (``# sqlalint: ignore[...]`` is applied here), and syntax errors (E999). It never
fixes. The ``[tool.sqlalint]`` keys that change what the analysis knows (models,
factories, table sizes) are read from the nearest ``pyproject.toml``, and the project
index (what names defined in other modules are) is built as ``sqlalint check`` builds it:
both once per project and process (flake8 ``-j`` runs plugins in worker processes).
"""
from __future__ import annotations

import ast
import functools
import logging
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

from sqlalint import __version__
from sqlalint.config import Settings, find_config, find_root, settings_from_file
from sqlalint.engine import lint_source
from sqlalint.files import module_name
from sqlalint.index import ProjectIndex, project_index
from sqlalint.suppress import Suppressions

LOG = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def _config_for(folder: Path) -> Optional[Path]:
    return find_config(folder)


@functools.lru_cache(maxsize=None)
def _analysis(config: Optional[Path], root: Path) -> Tuple[Settings, ProjectIndex]:
    """Every rule selected (selection and per-file ignores are flake8's), and the index."""
    settings = settings_from_file(config) if config is not None else Settings(root=root)
    settings = replace(settings, select=("SLA",), extend_select=(), ignore=(), per_file_ignores=())
    return settings, project_index(settings)


def analysis_for(filename: str) -> Tuple[Settings, ProjectIndex]:
    """The settings for a file, from the nearest ``pyproject.toml`` with ``[tool.sqlalint]``,
    and its project's index. A configuration error propagates: flake8 reports it as this
    plugin's failure."""
    path = Path(filename)
    folder = (path if path.is_absolute() else Path.cwd() / path).parent
    config = _config_for(folder)
    return _analysis(config, find_root(folder) if config is None else config.resolve().parent)


class Plugin:
    name = "sqlalint"
    version = __version__

    def __init__(self, tree: ast.AST, lines: Sequence[str], filename: str):
        # ``tree`` makes this an AST plugin: flake8 runs it only on files that parse.
        self.lines = lines
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        settings, index = analysis_for(self.filename)
        source = "".join(self.lines)
        module, is_package = module_name(Path(self.filename), settings.root)
        result = lint_source(source, self.filename, settings, index, module, is_package, noqa=False, prune=True)
        for error in result.errors:
            LOG.warning("sqlalint: internal error in rule %s on %s: %s", error.code, error.path, error.message)
        ignored = Suppressions(source, noqa=False)  # ``# sqlalint: ignore[...]``; flake8 does noqa
        for d in result.diagnostics:
            # flake8 only runs this on files Python parses: an SLA001 here says why sqlalint
            # did not analyse it (libcst's limits, max-file-size), which flake8 cannot know.
            if not ignored.suppressed(d.line, d.code):
                yield d.line, d.column - 1, f"{d.code} {d.message}", type(self)
