"""What the API, the workflows and the activities agree on: run payloads, the states of a model
and a run, the kinds of operation, and the names Temporal needs as strings.

Imports nothing from the rest of the project (only the standard library), so every layer can
depend on it without an arrow running back up.
"""
