"""sqlalint: a linter, with fixes, for SQLAlchemy mistakes that only show up under load."""
__version__ = "0.1.0"


def check_source(source, path="<stdin>", settings=None, **kwargs):
    """The findings for one module's source text (see :func:`sqlalint.engine.check_source`)."""
    from sqlalint.engine import check_source as _check_source

    return _check_source(source, path, settings, **kwargs)


def fix_source(source, path="<stdin>", settings=None, **kwargs):
    """Fixed source and what remains (see :func:`sqlalint.engine.fix_source`)."""
    from sqlalint.engine import fix_source as _fix_source

    return _fix_source(source, path, settings, **kwargs)


__all__ = ["__version__", "check_source", "fix_source"]
