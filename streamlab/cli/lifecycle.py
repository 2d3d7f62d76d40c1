"""The registry verbs every model family's command group shares: ``promote`` and ``versions``.

Written once and added to each family's group by :func:`add_lifecycle_commands`, so
``streamlab abr promote`` and ``streamlab ladder promote`` are the same code with the same gate
(:func:`streamlab.core.registry.promote`).
"""

from __future__ import annotations

from typing import Annotated

import typer


def add_lifecycle_commands(app: typer.Typer, key: str) -> None:
    """Add ``promote`` and ``versions`` for family ``key`` (abr, ladder, recsys, qoe) to ``app``."""

    @app.command("promote")
    def promote(
        version: Annotated[str, typer.Argument(help="registered version number to promote")],
        alias: Annotated[str, typer.Option(help="alias to move")] = "champion",
        force: Annotated[bool, typer.Option("--force", help="move the alias even if the version does not beat the holder")] = False,
    ) -> None:
        """Point ALIAS at VERSION if it beats the current holder on the family's promotion metric.

        Exits 1 when the gate refuses (both numbers are printed and tagged on the version).
        """
        from streamlab.core import registry
        from streamlab.models.families import family

        decision = registry.promote(family(key), version, alias, force=force)
        typer.echo(decision.reason)
        if not decision.promoted:
            raise typer.Exit(1)

    @app.command("versions")
    def versions() -> None:
        """List the family's registered versions: metric, aliases, and the promotion decision."""
        from streamlab.core import registry
        from streamlab.models.families import family

        spec = family(key)
        rows = registry.list_versions(spec)
        if not rows:
            typer.echo(f"{spec.name}: no registered version (train one, or `streamlab serve register-defaults`)")
            return
        typer.echo(f"{spec.name} ({spec.metric}, {'higher' if spec.higher_is_better else 'lower'} is better)")
        for row in rows:
            metric = "-" if row.metric is None else f"{row.metric:.4g}"
            aliases = ",".join(row.aliases) or "-"
            typer.echo(f"  v{row.version:<4} {metric:>10}  {aliases:<12} {row.promotion}")
