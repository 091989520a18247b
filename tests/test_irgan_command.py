"""``seqadv irgan score``: released models scored by seqadv, bad input refused with exit 2."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from seqadv.cli import main


def test_the_released_generator_scores_its_published_figures(shared_data, capsys):
    d = shared_data / "movielens-100k"
    args = ["irgan", "score", str(d / "gan_generator.pkl"), "--train", str(d / "movielens-100k-train.txt"),
            "--test", str(d / "movielens-100k-test.txt"), "--json"]  # fmt: skip
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["users"] == 456 and "relevant:test-rating>=4" in r["protocol"]
    assert [round(r[k], 4) for k in ("p@3", "p@5", "p@10", "ndcg@3", "ndcg@5", "ndcg@10")] == [
        0.4057, 0.3785, 0.3184, 0.4228, 0.4053, 0.3775,
    ]  # fmt: skip


def test_a_synthetic_model_and_bad_inputs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps([rng.standard_normal((4, 2)), rng.standard_normal((6, 2)), np.zeros(6)], protocol=2))
    (tmp_path / "train.txt").write_text("0 0 5\n1 1 4\n2 2 1\n")
    (tmp_path / "test.txt").write_text("0 3 5\n1 4 4\n3 5 2\n")
    base = ["irgan", "score", str(model), "--train", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt")]
    assert main([*base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["users"] == 2  # user 3's only test rating is 2

    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit(99)",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([Evil()]))
    assert main(["irgan", "score", str(evil), *base[3:]]) == 2
    assert "refused to load builtins.exec" in capsys.readouterr().err
    assert main([*base[:3], "--train", str(tmp_path / "nope.txt"), "--test", str(tmp_path / "test.txt")]) == 2
    assert "--train" in capsys.readouterr().err
    (tmp_path / "big.txt").write_text("0 9 5\n")
    assert main([*base[:5], "--test", str(tmp_path / "big.txt")]) == 2
    assert "do not fit the model's 4 users x 6 items" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["irgan", "score", str(model), "--train", "x", "--test", "y", "--format", "csv"])
