"""``python -m cgt.explain``: runs :func:`cgt.cli.explain.main` (the command line lives in
:mod:`cgt.cli.explain`); nothing here is meant to be imported (explanations are
``cgt.load_model(...).explain(smiles)``, :mod:`cgt.explanation`)."""

if __name__ == "__main__":
    import sys

    from cgt.cli.explain import main

    sys.exit(main())
