"""``streamlab edge``: logic at the edge: playback service, content steering, predictive cache warming."""

from __future__ import annotations

import typer

app = typer.Typer(help="Edge intelligence: device-aware playback, multi-CDN content steering, predictive cache warming.",
                  no_args_is_help=True)
