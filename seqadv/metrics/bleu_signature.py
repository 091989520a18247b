"""What a BLEU figure is and how it was computed: :class:`BleuSignature` and :class:`BleuResult`.

Every BLEU, Self-BLEU and corpus BLEU of :mod:`seqadv.metrics` returns a :class:`BleuResult`
whose :class:`BleuSignature` states the metric, n, the weights, the smoothing, the averaging,
the tokenizer, lower-casing, the numbers of hypotheses and references and the seqadv version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from seqadv import __version__

__all__ = ["BleuResult", "BleuSignature", "results_to_log"]

_SMOOTHING = "nltk-method1(epsilon=0.1)"
_AVERAGING = "mean over hypotheses of sentence BLEU"
_PRETOKENIZED = "pretokenized"


@dataclass(frozen=True)
class BleuSignature:
    """Everything needed to reproduce or compare a BLEU figure.

    Attributes:
        metric: ``"bleu"`` (Texygen protocol), ``"self_bleu"`` or ``"corpus_bleu"``.
        n: Largest n-gram order (BLEU-n).
        weights: N-gram weights (``"uniform"``: 1/n each).
        smoothing: Smoothing method (nltk's method1 with epsilon 0.1, or sacrebleu's).
        averaging: How sentence scores become one figure.
        references: Which references each hypothesis is scored against: ``"all"`` (every
            reference), ``"others"`` (Self-BLEU: every other sentence of the set) or
            ``"paired"`` (corpus BLEU: its own references).
        tokenizer: Tokenizer name (the ``name`` attribute of the tokenizer callable, else its
            ``__name__``), or ``"pretokenized"`` when the caller gave tokens.
        lowercase: Whether text was lower-cased; ``None`` when seqadv did not see raw text, or
            the tokenizer does not say whether it lower-cases.
        n_hypotheses: Number of hypotheses scored.
        n_references: Number of references per hypothesis (Self-BLEU: the others, n - 1).
        version: seqadv version.
        seed: Seed of the run that produced the hypotheses, when the caller records one.
        backend: Signature of the external implementation (sacrebleu), if any.
        scale: 1.0 for scores in [0, 1]; 100.0 for sacrebleu's percentages.
    """

    metric: str
    n: int
    weights: str
    smoothing: str
    averaging: str
    references: str
    tokenizer: str
    lowercase: bool | None
    n_hypotheses: int
    n_references: int
    version: str = __version__
    seed: int | None = None
    backend: str | None = None
    scale: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        """The signature as a JSON-ready dict."""
        return asdict(self)

    def __str__(self) -> str:
        case = {True: "lc", False: "mixed", None: "as-given"}[self.lowercase]
        parts = [
            f"{self.metric}{self.n}",
            f"refs:{self.references}",
            f"nrefs:{self.n_references}",
            f"nhyps:{self.n_hypotheses}",
            f"weights:{self.weights}",
            f"smooth:{self.smoothing}",
            f"avg:{self.averaging.replace(' ', '-')}",
            f"tok:{self.tokenizer}",
            f"case:{case}",
        ]
        if self.seed is not None:
            parts.append(f"seed:{self.seed}")
        if self.backend:
            parts.append(f"backend:{self.backend}")
        parts.append(f"seqadv:{self.version}")
        return "|".join(parts)


@dataclass(frozen=True)
class BleuResult:
    """One BLEU figure with its signature (and, for BLEU and Self-BLEU, the sentence scores).

    Attributes:
        score: The figure (in [0, 1]; sacrebleu's corpus BLEU in [0, 100], see ``signature.scale``).
        signature: How it was computed.
        sentence_scores: Float64 array of shape (n_hypotheses,): each sentence's BLEU, in input
            order (``None`` for corpus BLEU).
    """

    score: float
    signature: BleuSignature
    sentence_scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """Log key of the figure: ``bleu4``, ``self_bleu2``, ``corpus_bleu4``."""
        return f"{self.signature.metric}{self.signature.n}"

    def with_seed(self, seed: int | None) -> BleuResult:
        """The same result with ``seed`` recorded in the signature."""
        return replace(self, signature=replace(self.signature, seed=seed))

    def with_tokenizer(self, tokenizer: str, lowercase: bool | None) -> BleuResult:
        """The same result with the tokenizer that made the (pre-tokenized) input recorded.

        For callers that tokenize themselves, e.g. with a ``Vocab`` built by ``nltk`` tokens.
        """
        sig = replace(self.signature, tokenizer=tokenizer, lowercase=lowercase)
        return replace(self, signature=sig)

    def as_dict(self) -> dict[str, Any]:
        """``{"name", "score", "signature"}`` as a JSON-ready dict (no sentence scores)."""
        return {"name": self.name, "score": self.score, "signature": self.signature.as_dict()}

    def __float__(self) -> float:
        return float(self.score)

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.6f} ({self.signature})"


def results_to_log(results: Mapping[Any, BleuResult], prefix: str = "eval/") -> dict[str, float]:
    """``{prefix + result.name: score}``, e.g. ``{"eval/bleu2": 0.73, ...}``."""
    return {f"{prefix}{r.name}": r.score for r in results.values()}
