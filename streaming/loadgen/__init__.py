"""Live-viewer load generation: LL-HLS clients on shaped links, a flash crowd over processes, and a
synthetic live channel that keeps the wall clock while the box is busy (``streamlab peak``)."""
