"""``python -m cgt.train``: runs :func:`cgt.cli.train.main` (the command line lives in
:mod:`cgt.cli.train`); nothing here is meant to be imported."""

if __name__ == "__main__":
    from cgt.cli.train import main

    main()
