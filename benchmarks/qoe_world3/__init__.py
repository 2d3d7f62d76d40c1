"""Kestrel: a third, independent QoE evaluation world (see README.md beside this file)."""
