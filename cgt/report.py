"""``python -m cgt.report RUN_DIR``: runs :func:`cgt.cli.report.main` (the command line lives
in :mod:`cgt.cli.report`, the figures in :mod:`cgt.figures`); nothing here is meant to be
imported."""

if __name__ == "__main__":
    import sys

    from cgt.cli.report import main

    sys.exit(main())
