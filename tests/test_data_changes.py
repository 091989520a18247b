"""A run records the data it was trained on and refuses to go on with different data."""

from __future__ import annotations

import json

from seqadv.cli import main
from seqadv.runs import load_checkpoint


def write_corpus(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def config(tmp_path, train):
    write_corpus(tmp_path / "test.txt", ["a b", "b c d"])
    text = f"""name: changed
seed: 3
data: {{source: corpus, train_path: {train}, test_path: {tmp_path / "test.txt"}, tokenizer: space, max_len: 6}}
generator: {{kwargs: {{embed_dim: 4, hidden_dim: 4}}}}
pretrain: {{epochs: 2, batch_size: 4}}
eval: {{every_epochs: 1, n_samples: 8, self_bleu: false, n_print: 0}}
"""
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_and_change(tmp_path, capsys):
    train = tmp_path / "train.txt"
    write_corpus(train, ["a b c", "b d", "b c", "a b", "c b"] * 4)
    run = tmp_path / "run"
    assert main(["train", str(config(tmp_path, train)), "--out", str(run)]) == 0
    recorded = json.loads((run / "data.json").read_text())
    assert recorded["files"][0]["path"] == str(train.resolve())
    write_corpus(train, ["a c b", "c d", "c b", "a c", "b c"] * 4)  # b and c swap ids
    capsys.readouterr()
    return run, train


def snapshot(run):
    return {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_resume_on_a_changed_corpus_is_refused_naming_the_file(tmp_path, capsys):
    run, train = run_and_change(tmp_path, capsys)
    before = snapshot(run)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert str(train.resolve()) in err and "changed since the run was trained" in err
    assert "the vocabulary differs" in err and "--allow-changed-data" in err and "Traceback" not in err
    assert snapshot(run) == before  # nothing written


def test_allowed_changes_keep_the_stored_vocabulary(tmp_path, capsys):
    run, _ = run_and_change(tmp_path, capsys)
    vocab_before = (run / "vocab.json").read_bytes()
    stored = load_checkpoint(run)["vocab"]
    assert main(["train", "--resume", str(run), "--allow-changed-data"]) == 0
    assert (run / "vocab.json").read_bytes() == vocab_before
    assert load_checkpoint(run)["vocab"] == stored


def test_eval_on_changed_data_is_refused_unless_allowed(tmp_path, capsys):
    run, train = run_and_change(tmp_path, capsys)
    assert main(["eval", str(run), "--json"]) == 2
    assert str(train.resolve()) in capsys.readouterr().err
    assert main(["eval", str(run), "--json", "--allow-changed-data"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["eval/nll_test"] > 0  # the test split, encoded with the run's own vocabulary


def test_json_writes_null_for_non_finite_values():
    from seqadv.runs import json_safe

    value = {"a": float("nan"), "b": [float("inf"), 1.0], "c": {"d": -float("inf")}, "e": "x"}
    assert json.dumps(json_safe(value), allow_nan=False) == (
        '{"a": null, "b": [null, 1.0], "c": {"d": null}, "e": "x"}'
    )
