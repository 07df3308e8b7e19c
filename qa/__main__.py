"""`python -m qa`: the command line, `qa.cli` (installed as `newsqa`)."""

from qa.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
