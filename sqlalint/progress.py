"""A progress bar on stderr, only for long runs of a human-readable format on a terminal."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TextIO

import click

# Fewer files than this finish before a bar is worth drawing.
MIN_FILES = 200
# Formats a person reads; the others (json, github, sarif, junit) are for machines.
HUMAN_FORMATS = ("text",)


@contextmanager
def progress(total: int, output_format: str, stream: Optional[TextIO] = None
             ) -> Iterator[Optional[Callable[[object], None]]]:
    """A callback to call once per file done, or None when no bar should be drawn."""
    stream = stream or sys.stderr
    if total < MIN_FILES or output_format not in HUMAN_FORMATS or not stream.isatty():
        yield None
        return
    with click.progressbar(length=total, label="Checking", file=stream, show_pos=True) as bar:
        yield lambda _report: bar.update(1)
