"""``streamlab demo``: the whole loop on embedded defaults (see :mod:`pipelines.demo.run`)."""

from pipelines.demo.run import run_demo

__all__ = ["run_demo"]
