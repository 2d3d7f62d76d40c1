"""A headless Python player: real segments over HTTP, a shaped link per session, ABR by policy."""
