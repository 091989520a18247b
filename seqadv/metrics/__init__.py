"""Text metrics: Texygen-protocol BLEU, Self-BLEU and sacrebleu's corpus BLEU.

The metrics depend on nothing but numpy (and, when called, sacrebleu) and the tokenizer they
are given, a callable ``str -> list[str]``: no module here imports ``seqadv.data``, the models,
the environments, the algorithms or the command line (``tests/metrics/test_layering.py``).
The ``seqadv bleu`` command is :mod:`seqadv.bleu_command`. Importing this package imports
nothing; start from :mod:`seqadv.metrics.bleu`.
"""
