"""``seqadv eval sweep``: one JSON line per (run, alpha), the tempered model's NLL, dominance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqadv.cli import main
from seqadv.sweep_command import covers, dominates, verdict

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "mle"
    assert main(["train", str(REPO / "experiments" / "mle_oracle_tiny.yaml"), "--out", str(path)]) == 0
    return path


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def test_each_alpha_samples_the_tempered_model_and_scores_it(oracle_run, capsys):
    from seqadv.cli import _load_generator, _load_run
    from seqadv.evaluation import cli_samples
    from seqadv.experiment import build_data

    assert main(["eval", "sweep", str(oracle_run), "--alphas", "0.5", "1", "2", "--n-samples", "64"]) == 0
    points = lines(capsys.readouterr().out)
    assert [p["alpha"] for p in points] == [0.5, 1.0, 2.0] and [p["tau"] for p in points] == [2.0, 1.0, 0.5]
    cfg, ckpt = _load_run(str(oracle_run), [])
    data = build_data(cfg.data)
    gen, _, _ = _load_generator(ckpt, cfg, data)
    for p in points:
        samples = cli_samples(gen, 64, 0, p["tau"])
        assert p["nll_oracle"] == pytest.approx(data.oracle.nll(samples), rel=1e-9)
        # NLL-test under the tempered model, by hand: log-softmax of logits / tau
        seqs = data.test
        logits = gen.output(gen.hidden_states(seqs)) / p["tau"]
        nll = -torch.log_softmax(logits, -1).gather(-1, seqs.unsqueeze(-1)).squeeze(-1)
        mask = gen.token_mask(seqs)
        assert p["nll_test"] == pytest.approx(float(nll[mask].mean()), rel=1e-5)
        assert p["n_samples"] == 64 and "sweep-oracle" in p["signature"]
    assert points[1]["nll_test"] == pytest.approx(gen.nll(data.test), rel=1e-9)  # tau 1: the model itself
    assert points[2]["nll_oracle"] < points[0]["nll_oracle"]  # colder samples: better quality


def test_text_runs_get_bleu5_and_self_bleu5_and_a_plot(tmp_path, capsys):
    from seqadv.metrics.bleu import bleu_many
    from seqadv.metrics.self_bleu import self_bleu

    run = tmp_path / "coco"
    preset = REPO / "experiments" / "seqgan_coco_tiny.yaml"
    words = "a man rides a horse on the beach near the sea at dusk with a dog".split()
    corpus = [" ".join(words[i % 7 : i % 7 + 5 + i % 4]) for i in range(60)]
    (tmp_path / "train.txt").write_text("\n".join(corpus[:45]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(corpus[45:]) + "\n")
    sets = ["adversarial.rounds=0", f"data.train_path={tmp_path / 'train.txt'}", f"data.test_path={tmp_path / 'test.txt'}"]
    assert main(["train", str(preset), *[a for x in sets for a in ("--set", x)], "--out", str(run)]) == 0
    capsys.readouterr()
    png = tmp_path / "curve.png"
    assert main(["eval", "sweep", str(run), "--alphas", "1", "1.5", "--n-samples", "40", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    points = lines(out)
    from seqadv.cli import _load_generator, _load_run
    from seqadv.evaluation import cli_samples
    from seqadv.experiment import build_data

    cfg, ckpt = _load_run(str(run), [])
    data = build_data(cfg.data)
    gen, _, _ = _load_generator(ckpt, cfg, data)
    for p in points:
        hyps = [data.tokens(r) for r in cli_samples(gen, 40, 0, p["tau"])]
        assert p["bleu5"] == pytest.approx(bleu_many(hyps, data.test_tokens, (5,))[5].score, abs=1e-12)
        assert p["self_bleu5"] == pytest.approx(self_bleu(hyps, n=5).score, abs=1e-12)
    assert png.stat().st_size > 0 and "# plot:" in out


def test_dominance_of_curves():
    def curve(*xy):
        return [{"nll_oracle": x, "nll_test": y, "alpha": 1.0} for x, y in xy]

    better = curve((1, 3), (2, 2), (3, 1))
    worse = curve((1.5, 3.5), (2.5, 2.5))
    crossing = curve((0.5, 5), (4, 0.5))
    assert dominates(better, worse) and not dominates(worse, better)
    assert not covers(better, crossing) and not covers(crossing, better)
    assert verdict("b", better, "c", crossing) == "neither of b and c dominates (the curves cross)"
    assert verdict("a", better, "b", list(better)) == "a and b match (each covers the other)"
    assert verdict("w", worse, "b", better) == "b dominates w"
    text = [{"bleu5": 0.3, "self_bleu5": 0.5, "alpha": 1.0}]
    assert dominates([{"bleu5": 0.4, "self_bleu5": 0.4, "alpha": 1.0}], text)  # higher BLEU is better


def test_bad_arguments_exit_2_naming_them(oracle_run, capsys):
    assert main(["eval", "sweep", str(oracle_run), "--alphas", "1", "0"]) == 2
    assert "--alphas" in capsys.readouterr().err
    assert main(["eval", "sweep", str(oracle_run.parent / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["eval", "sweep", "--help"])
    assert exc.value.code == 0
    assert "NLL-test" in capsys.readouterr().out  # the help names every axis's definition
