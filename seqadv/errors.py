"""Typed exceptions. Every message names the file, line, key or argument at fault."""

from __future__ import annotations


class SeqadvError(Exception):
    """Base class of every error seqadv raises on purpose."""


class ConfigError(SeqadvError, ValueError):
    """A configuration key or value is wrong (the message names the key)."""


class DataError(SeqadvError, ValueError):
    """A data file cannot be used as given (the message names the file and line)."""


class UnknownNameError(SeqadvError, KeyError):
    """A registry has no entry of that name (the message lists close matches)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnsafePickleError(SeqadvError):
    """A pickle asked for something other than numpy arrays; it was not loaded."""


class CheckpointError(SeqadvError):
    """A checkpoint is missing, unreadable or does not fit the run."""


class RewardError(SeqadvError, ValueError):
    """A reward returned the wrong shape or non-finite values."""
