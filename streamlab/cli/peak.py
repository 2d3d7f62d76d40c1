"""``streamlab peak``: flash crowds of live viewers through the edge, and the scaling model beyond this box."""

from __future__ import annotations

import typer

app = typer.Typer(help="Peak events: a live-viewer load generator through the edge and a scaling simulation.",
                  no_args_is_help=True)
