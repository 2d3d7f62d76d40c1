"""``streamlab demo``: the whole loop on embedded defaults (see :mod:`streamlab.pipelines.demo.run`)."""

from streamlab.pipelines.demo.run import run_demo

__all__ = ["run_demo"]
