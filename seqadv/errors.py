"""Typed exceptions. Every message names the file, line, key or argument at fault."""

from __future__ import annotations


class SeqadvError(Exception):
    """Base class of every error seqadv raises on purpose."""


class ConfigError(SeqadvError, ValueError):
    """A configuration key or value is wrong (the message names the key)."""


class TooFewEnvsError(ConfigError):
    """An environment needs more rows (``env.num_envs``) than it was built with; the message
    says how many (the trainer's smoke check then builds its probe that large)."""

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = int(needed)


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


class NonFiniteError(SeqadvError, FloatingPointError):
    """Training met a NaN or infinite loss, gradient norm, reward or parameter.

    Raised before the optimizer step that would have spread it into the weights (the
    stable-baselines3 learner, whose steps run inside SB3, raises at the first check it
    gets: a reward as it is collected, a gradient before SB3's optimizer step, the losses
    and parameters after SB3's ``train()``). The message names the phase or component (the
    learner and its update number, ``MLE step``, ``discriminator training`` and its epoch and
    batch), what was not finite and, for the learners, the batch's rewards. The trainer
    checkpoints only after a finished round, epoch or phase, so the run directory's
    ``checkpoints/last.pt`` stays the last good state.
    """
