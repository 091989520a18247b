"""Training runs end to end: the MLE learner, run files, determinism, stop-and-resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.mle import MLELearner
from seqadv.config import load_config
from seqadv.errors import CheckpointError
from seqadv.models.generator import LSTMGenerator
from seqadv.models.oracle import OracleLSTM
from seqadv.runs import RunDir, load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "experiments" / "mle_oracle_tiny.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def train(out: Path, overrides: list[str] | None = None, config: Path = TINY, base=None):
    cfg = load_config(config, overrides or [])
    trainer = AdversarialTrainer(cfg, run=RunDir(out), base_dir=base or config.parent)
    final = trainer.fit()
    return trainer, final


def eval_values(run: Path) -> list[dict]:
    rows = RunDir(run).read_metrics()
    return [
        {k: v for k, v in r.items() if k.startswith(("eval/", "gen/", "phase", "step"))}
        for r in rows
    ]


def samples_of(run: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((run / "samples").iterdir())}


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run)["generator"]


def interrupt_on_call(monkeypatch, cls, method: str, n: int) -> None:
    """Make ``cls.method`` raise KeyboardInterrupt on its n-th call (like Ctrl-C)."""
    original = getattr(cls, method)
    calls = {"n": 0}

    def wrapper(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapper)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The tiny preset trained once, start to end (read-only for the tests that use it)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    trainer, final = train(out)
    return out, trainer, final


# -- the MLE learner -------------------------------------------------------------------------------
@pytest.fixture
def oracle_data():
    oracle = OracleLSTM.from_seed(0, vocab_size=12, embed_dim=8, hidden_dim=8, max_len=6)
    return oracle.sample(200, generator=torch.Generator().manual_seed(0))


def small_generator(seed=0):
    gen = LSTMGenerator(12, embed_dim=8, hidden_dim=16, max_len=6)
    gen.init_normal_(0.1, generator=torch.Generator().manual_seed(seed))
    return gen


def test_mle_steps_lower_the_loss_and_move_the_weights(oracle_data):
    gen = small_generator()
    before = [p.detach().clone() for p in gen.parameters()]
    learner = MLELearner(gen, lr=0.01, batch_size=32)
    batch = oracle_data[:32]
    losses = [learner.step(batch) for _ in range(30)]
    assert losses[-1] < losses[0] - 0.1
    assert all(not torch.equal(a, b) for a, b in zip(before, gen.parameters()))
    assert losses[0] == pytest.approx(small_generator().mle_loss(batch).item(), rel=1e-6)


def test_train_epoch_batches_and_order(oracle_data):
    stats = MLELearner(small_generator(), batch_size=64).train_epoch(
        oracle_data, torch.Generator().manual_seed(0)
    )
    assert stats["gen/mle_batches"] == 3  # 200 // 64, the last partial batch dropped
    keep = MLELearner(small_generator(), batch_size=64, drop_last=False)
    assert keep.train_epoch(oracle_data, torch.Generator().manual_seed(0))["gen/mle_batches"] == 4
    small = MLELearner(small_generator(), batch_size=500)  # fewer rows than a batch: one batch
    assert small.train_epoch(oracle_data, torch.Generator().manual_seed(0))["gen/mle_batches"] == 1

    def run(seed):
        gen = small_generator()
        MLELearner(gen, batch_size=64).train_epoch(oracle_data, torch.Generator().manual_seed(seed))
        return gen.output.weight.detach().clone()

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


def test_learner_state_round_trips_through_a_checkpoint(oracle_data, tmp_path):
    gen_a, gen_b = small_generator(), small_generator(seed=1)
    a, b = MLELearner(gen_a, batch_size=32), MLELearner(gen_b, batch_size=32)
    for _ in range(3):
        a.step(oracle_data[:32])
    save_checkpoint(tmp_path / "c.pt", {"generator": gen_a.state_dict(), "mle": a.state_dict()})
    ckpt = load_checkpoint(tmp_path / "c.pt")
    gen_b.load_state_dict(ckpt["generator"])
    b.load_state_dict(ckpt["mle"])
    for batch in (oracle_data[32:64], oracle_data[64:96]):
        assert a.step(batch) == b.step(batch)
    for pa, pb in zip(gen_a.parameters(), gen_b.parameters()):
        assert torch.equal(pa, pb)


def test_grad_clip_bounds_the_gradient_norm(oracle_data):
    def grad_norm_after_step(clip):
        gen = small_generator()
        MLELearner(gen, lr=0.01, batch_size=32, grad_clip=clip).step(oracle_data[:32])
        return torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in gen.parameters()]))

    assert grad_norm_after_step(None) > 1e-2
    assert grad_norm_after_step(1e-2) <= 1e-2 * (1 + 1e-5)


# -- a whole run -----------------------------------------------------------------------------------
def test_tiny_run_writes_every_file(reference_run):
    out, trainer, final = reference_run
    cfg = trainer.cfg
    assert {p.name for p in out.iterdir()} >= {
        "config.yaml", "versions.json", "command.txt", "metrics.jsonl",
        "samples", "checkpoints", "plots",
    }  # fmt: skip
    saved = load_config(out / "config.yaml")
    assert saved == cfg and saved.seed == 7
    assert json.loads((out / "versions.json").read_text())["torch_threads"] == cfg.threads
    rows = RunDir(out).read_metrics()
    epochs = list(range(0, cfg.pretrain.epochs + 1, cfg.eval.every_epochs))
    assert [r["epoch"] for r in rows] == epochs
    for r in rows:
        assert r["phase"] == "mle"
        assert 0 < r["eval/nll_oracle"] < 10 and 0 < r["eval/nll_test"] < 10
    assert final == rows[-1]
    assert rows[-1]["eval/nll_oracle"] < rows[0]["eval/nll_oracle"]
    assert rows[-1]["eval/nll_test"] < rows[0]["eval/nll_test"]
    assert sorted(samples_of(out)) == [f"mle-{e:04d}.txt" for e in epochs]
    last = cfg.pretrain.epochs
    lines = (out / "samples" / f"mle-{last:04d}.txt").read_text().splitlines()
    assert len(lines) == cfg.keep_samples
    assert all(len(line.split()) == cfg.data.max_len for line in lines)
    png = out / "plots" / "learning_curve.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    ckpt = load_checkpoint(out)
    assert ckpt["state"]["phase"] == "done" and ckpt["state"]["mle_epoch"] == last
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt"]


def test_nll_test_is_the_generator_nll_of_the_held_out_split(reference_run):
    _, trainer, final = reference_run
    assert final["eval/nll_test"] == pytest.approx(
        trainer.generator.nll(trainer.data.test), rel=1e-9
    )
    assert trainer.data.test.shape == (trainer.cfg.data.n_test, trainer.cfg.data.max_len)


def test_same_seed_same_metrics_and_samples(tmp_path, reference_run):
    done = reference_run[0]
    train(tmp_path / "b")
    assert eval_values(done) == eval_values(tmp_path / "b")
    assert samples_of(done) == samples_of(tmp_path / "b")
    wa, wb = final_weights(done), final_weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # and the comparison can fail: another seed gives other samples
    train(tmp_path / "c", ["seed=8", "pretrain.epochs=2"])
    assert samples_of(tmp_path / "c") != samples_of(done)
    assert eval_values(tmp_path / "c") != eval_values(done)[:2]


def test_missing_seed_is_drawn_and_recorded(tmp_path):
    trainer, _ = train(tmp_path / "run", ["seed=null", "pretrain.epochs=1"])
    assert isinstance(trainer.seed, int)
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["seed"] == trainer.seed


def assert_same_result(done: Path, resumed: Path) -> None:
    a, b = eval_values(done), eval_values(resumed)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        assert ra == rb  # every eval/* value, exactly
    assert samples_of(done) == samples_of(resumed)
    wa, wb = final_weights(done), final_weights(resumed)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


@pytest.mark.parametrize("stop_at", [1, 2, 4, 6])
def test_stopped_and_resumed_run_ends_like_an_uninterrupted_one(
    tmp_path, monkeypatch, stop_at, reference_run
):
    interrupt_on_call(monkeypatch, MLELearner, "train_epoch", stop_at)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "resumed")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "resumed")["state"]["mle_epoch"] == stop_at - 1
    trainer = AdversarialTrainer.resume(tmp_path / "resumed")
    assert trainer.state["mle_epoch"] == stop_at - 1
    trainer.fit()
    assert_same_result(reference_run[0], tmp_path / "resumed")


def test_stop_after_an_evaluation_before_its_checkpoint(tmp_path, monkeypatch, reference_run):
    """metrics.jsonl got a record the checkpoint does not know: resuming drops it and redoes it."""
    original_save = AdversarialTrainer.save

    def save_unless_epoch_4(self, *args, **kwargs):
        if self.state["mle_epoch"] == 4:  # epoch 4 was trained and evaluated, not checkpointed
            raise KeyboardInterrupt
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(AdversarialTrainer, "save", save_unless_epoch_4)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "resumed")
    monkeypatch.undo()
    assert [r["epoch"] for r in RunDir(tmp_path / "resumed").read_metrics()] == [0, 2, 4]
    AdversarialTrainer.resume(tmp_path / "resumed").fit()
    assert_same_result(reference_run[0], tmp_path / "resumed")


def test_resume_twice(tmp_path, monkeypatch, reference_run):
    interrupt_on_call(monkeypatch, MLELearner, "train_epoch", 2)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "resumed")
    monkeypatch.undo()
    interrupt_on_call(monkeypatch, MLELearner, "train_epoch", 3)
    with pytest.raises(KeyboardInterrupt):
        AdversarialTrainer.resume(tmp_path / "resumed").fit()
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "resumed")["state"]["mle_epoch"] == 3
    AdversarialTrainer.resume(tmp_path / "resumed").fit()
    assert_same_result(reference_run[0], tmp_path / "resumed")


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    train(tmp_path / "run", ["pretrain.epochs=2"])
    before = eval_values(tmp_path / "run")
    AdversarialTrainer.resume(tmp_path / "run").fit()
    assert eval_values(tmp_path / "run") == before


def test_checkpoint_of_another_config_is_refused(tmp_path):
    train(tmp_path / "run", ["pretrain.epochs=1"])
    other = AdversarialTrainer(load_config(TINY, ["pretrain.epochs=2"]))
    with pytest.raises(CheckpointError, match="different config"):
        other.load_state(load_checkpoint(tmp_path / "run"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_resume_refuses_a_malicious_checkpoint(tmp_path):
    import os
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch '{tmp_path / 'pwned'}'",))

    train(tmp_path / "run", ["pretrain.epochs=1"])
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(CheckpointError, match="weights_only"):
        AdversarialTrainer.resume(tmp_path / "run")
    assert not (tmp_path / "pwned").exists()


def test_resume_of_a_non_run_directory_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="no config.yaml"):
        AdversarialTrainer.resume(tmp_path)


def test_resume_of_a_non_run_directory_leaves_it_untouched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError):
        AdversarialTrainer.resume(tmp_path)
    with pytest.raises(CheckpointError):
        AdversarialTrainer.resume(tmp_path / "typo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_with_an_oracle_path_relative_to_the_config(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    OracleLSTM.from_seed(1, vocab_size=10, embed_dim=8, hidden_dim=8, max_len=5).save_npz(
        configs / "oracle.npz"
    )
    config = configs / "c.yaml"
    config.write_text(
        TINY.read_text().replace("source: oracle", "source: oracle\n  oracle_path: oracle.npz")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    trainer, _ = train(elsewhere / "done", config=config)
    assert trainer.data.oracle.vocab_size == 10
    interrupt_on_call(monkeypatch, MLELearner, "train_epoch", 3)
    with pytest.raises(KeyboardInterrupt):
        train(elsewhere / "resumed", config=config)
    AdversarialTrainer.resume(elsewhere / "resumed").fit()
    assert_same_result(elsewhere / "done", elsewhere / "resumed")


# -- a corpus run ----------------------------------------------------------------------------------
CORPUS = """\
a dog runs in the park .
the cat sleeps on a mat .
a man rides a horse .
two dogs play in the snow .
the woman reads a book .
a child eats an apple .
"""


def test_tiny_corpus_run(tmp_path):
    (tmp_path / "train.txt").write_text(CORPUS * 4)
    (tmp_path / "test.txt").write_text(CORPUS)
    config = tmp_path / "corpus.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "corpus_tiny",
                "seed": 3,
                "data": {
                    "source": "corpus",
                    "train_path": "train.txt",
                    "test_path": "test.txt",
                    "tokenizer": "space",
                    "max_len": 8,
                },
                "generator": {"kwargs": {"embed_dim": 8, "hidden_dim": 16}},
                "pretrain": {"epochs": 4, "batch_size": 8},
                "eval": {"every_epochs": 2, "n_samples": 64, "bleu_max_n": 2, "n_self_bleu": 16},
                "keep_samples": 10,
            }
        )
    )
    out = tmp_path / "run"
    trainer, final = train(out, config=config)
    vocab = trainer.data.vocab
    assert (out / "vocab.json").is_file()
    assert [r["epoch"] for r in RunDir(out).read_metrics()] == [0, 2, 4]
    assert final["eval/nll_test"] < RunDir(out).read_metrics()[0]["eval/nll_test"]
    words = set(CORPUS.split()) | {"<unk>"}  # UNK is a token like any other
    for line in (out / "samples" / "mle-0004.txt").read_text().splitlines():
        assert set(line.split()) <= words, line  # no <pad>, <bos>, <eos> or ids in the text
    x = trainer.generator.sample(500, generator=torch.Generator().manual_seed(0))
    mask = trainer.generator.token_mask(x)
    assert not torch.isin(x[mask], torch.tensor([vocab.pad_id, vocab.bos_id])).any()


def test_a_finished_run_can_be_extended_and_says_so(tmp_path, capsys):
    from seqadv.cli import main

    preset = Path(__file__).resolve().parents[1] / "experiments" / "seqgan_oracle_tiny.yaml"
    run = tmp_path / "run"
    assert main(["train", str(preset), "--set", "adversarial.rounds=2", "--out", str(run)]) == 0
    rounds = lambda: [  # noqa: E731
        json.loads(line)["round"]
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["phase"] == "round"
    ]
    assert rounds() == [1, 2]
    assert main(["train", "--resume", str(run), "--set", "adversarial.rounds=4"]) == 0
    assert rounds() == [1, 2, 3, 4]
    assert "adversarial.rounds=4" in (run / "command.txt").read_text()
    assert "rounds: 4" in (run / "config.yaml").read_text()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--set", "adversarial.rounds=3"]) == 2
    assert "it can only grow" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--set", "pretrain.lr=0.5"]) == 2
    assert "only adversarial.rounds, pretrain.epochs" in capsys.readouterr().err


def test_an_extended_run_ends_like_one_trained_that_long(tmp_path):
    from seqadv.cli import main

    preset = Path(__file__).resolve().parents[1] / "experiments" / "seqgan_oracle_tiny.yaml"
    short, long = tmp_path / "short", tmp_path / "long"
    assert main(["train", str(preset), "--set", "adversarial.rounds=2", "--set", "eval.every_rounds=1", "--out", str(short)]) == 0
    assert main(["train", "--resume", str(short), "--set", "adversarial.rounds=3"]) == 0
    assert main(["train", str(preset), "--set", "adversarial.rounds=3", "--set", "eval.every_rounds=1", "--out", str(long)]) == 0
    last = lambda p: [json.loads(x) for x in (p / "metrics.jsonl").read_text().splitlines()][-1]  # noqa: E731
    a, b = last(short), last(long)
    assert a["round"] == b["round"] == 3 and a["eval/nll_oracle"] == b["eval/nll_oracle"]
