"""``python -m cgt.predict``: runs :func:`cgt.cli.predict.main` (the command line lives in
:mod:`cgt.cli.predict`); nothing here is meant to be imported: ``cgt.predict`` is the
function :func:`cgt.inference.predict`."""

if __name__ == "__main__":
    import sys

    from cgt.cli.predict import main

    sys.exit(main())
