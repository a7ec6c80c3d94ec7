"""``python -m guidekit`` runs the command line (same as ``guidekit``)."""

from guidekit.cli import main

if __name__ == "__main__":
    main()
