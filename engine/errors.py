"""Typed errors raised by the pure engine; callers map them to API/workflow errors by type."""


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""
