"""``python -m streamlab.cli``: the same command as the ``streamlab`` console script."""

from streamlab.cli import main

main()
