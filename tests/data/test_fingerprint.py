"""Data fingerprints: equal for the same data, and every change named by what changed."""

from __future__ import annotations

from seqadv.config import DataConfig
from seqadv.data.fingerprint import data_fingerprint, fingerprint_differences
from seqadv.experiment import build_data


def corpus(tmp_path, lines, name="train.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = DataConfig(source="corpus", train_path=str(path), tokenizer="space", max_len=6)
    return cfg, path


def test_the_same_data_give_the_same_fingerprint(tmp_path):
    cfg, _ = corpus(tmp_path, ["a b c", "b c d", "a a b"])
    first, second = data_fingerprint(build_data(cfg)), data_fingerprint(build_data(cfg))
    assert first == second and fingerprint_differences(first, second) == []
    assert first["files"][0]["size"] > 0 and len(first["files"][0]["sha256"]) == 64


def test_swapped_word_ids_are_named_by_file_and_vocabulary(tmp_path):
    cfg, path = corpus(tmp_path, ["a b c", "b d", "b c"])
    before_data = build_data(cfg)
    before = data_fingerprint(before_data)
    path.write_text("a c b\nc d\nc b\n", encoding="utf-8")  # same words; b and c swap ids
    after_data = build_data(cfg)
    after = data_fingerprint(after_data)
    assert after["vocab_size"] == before["vocab_size"]
    problems = fingerprint_differences(before, after)
    assert str(path.resolve()) in problems[0] and "changed since the run was trained" in problems[0]
    assert any("the vocabulary differs" in p and "first difference at id" in p for p in problems)
    assert after_data.vocab.itos != before_data.vocab.itos
    # encoding the new file with the run's own vocabulary keeps the stored word ids
    kept = build_data(cfg, vocab=before_data.vocab)
    assert kept.vocab.itos == before_data.vocab.itos


def test_oracle_data_are_fingerprinted_by_their_samples():
    small = DataConfig(vocab_size=8, oracle_embed_dim=4, oracle_hidden_dim=4, max_len=4, n_train=16, n_test=8)
    fp = data_fingerprint(build_data(small))
    assert fp["files"] == [] and fp["words"] is None and fp["train"]["shape"] == [16, 4]
    other = data_fingerprint(build_data(DataConfig(**{**small.__dict__, "data_seed": 5})))
    assert [p.split(" (")[0] for p in fingerprint_differences(fp, other)] == [
        "the encoded train split differs",
        "the encoded test split differs",
    ]
