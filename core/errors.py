"""Typed failures that users can act on.

Every error the engine raises on purpose is a ``BailongError`` whose message is one line a person can
read without a traceback; the CLI prints it and the job system stores it. Subclasses say which part of
the work went wrong so callers can map them to a reason (bad config, bad data, missing model ...).
"""


class BailongError(Exception):
    """A failure with a one-line, human-readable message."""

    reason = "error"


class ConfigError(BailongError):
    reason = "bad config"


class DataError(BailongError):
    reason = "bad data"


class ModelError(BailongError):
    reason = "missing model"


class OutputError(BailongError):
    reason = "output folder"


class OutOfMemory(BailongError):
    reason = "out of memory"
