"""Temporal workflows for every long operation (SPEC §1.4–1.6, §1.10); ``workflows.registry`` lists them.

Kept empty on purpose: the workflow sandbox re-imports this package for every workflow module.
"""
