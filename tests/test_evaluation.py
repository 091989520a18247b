"""The evaluation metrics and their signatures."""

from __future__ import annotations

import pytest

from seqadv.config import DataConfig, EvalConfig
from seqadv.evaluation import METRICS, evaluate_policy
from seqadv.experiment import build_data
from seqadv.models.generator import lstm_policy


@pytest.mark.parametrize(("tokenizer", "case"), [("nltk", "case:lc"), ("space", "case:mixed"), ("char", "case:mixed")])
def test_every_bleu_signature_states_the_case_of_its_tokenizer(tmp_path, tokenizer, case):
    for name in ("train.txt", "test.txt"):
        (tmp_path / name).write_text("The cat sat .\nA Dog ran .\nthe cat ran .\n", encoding="utf-8")
    cfg = DataConfig(
        source="corpus",
        train_path=str(tmp_path / "train.txt"),
        test_path=str(tmp_path / "test.txt"),
        tokenizer=tokenizer,
        max_len=24,
    )
    data = build_data(cfg)
    policy = lstm_policy(data, seed=0, embed_dim=4, hidden_dim=4)
    metrics, samples = evaluate_policy(policy, data, EvalConfig(n_samples=8, bleu_max_n=3), 0, "t")
    assert f"tok:{tokenizer}" in metrics["eval/bleu_signature"]
    assert case in metrics["eval/bleu_signature"]
    assert samples.shape == (8, 24)
    for name in ("nll_test", "bleu", "self_bleu"):
        assert f"eval/{name}_signature" in metrics or name == "bleu"


def test_the_metric_list_chooses_what_is_computed():
    data = build_data(DataConfig(vocab_size=8, oracle_embed_dim=4, oracle_hidden_dim=4, max_len=4, n_train=16, n_test=8))
    policy = lstm_policy(data, seed=0, embed_dim=4, hidden_dim=4)
    only, _ = evaluate_policy(policy, data, EvalConfig(n_samples=8, metrics=["nll_oracle"]), 0, "t")
    assert set(only) == {"eval/nll_oracle", "eval/nll_oracle_signature"}
    default, _ = evaluate_policy(policy, data, EvalConfig(n_samples=8), 0, "t")
    assert {"eval/nll_oracle", "eval/nll_test", "eval/self_bleu2"} <= set(default)
    assert default["eval/nll_oracle"] == only["eval/nll_oracle"]  # the same samples
    assert {"nll_oracle", "nll_test", "bleu", "self_bleu"} <= set(METRICS.names())
