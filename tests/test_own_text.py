"""``seqadv train --data TRAIN.txt``: the README's command runs, and what it derives."""

from __future__ import annotations

import json
import random
import re
import shlex
import time
from pathlib import Path

from seqadv.cli import main
from seqadv.own_text import plan_own_text, sanitize_name

REPO = Path(__file__).resolve().parents[1]


def grammar_sentences(n: int, seed: int) -> list[str]:
    """Short sentences of a small grammar (subject verb object [near object] .)."""
    r = random.Random(seed)
    subjects = ["the cat", "a dog", "my friend", "the old man", "a small bird"]
    verbs = ["sees", "likes", "eats", "finds", "follows"]
    objects = ["the ball", "a tree", "the red apple", "some water", "the big house"]
    out = []
    for _ in range(n):
        s = f"{r.choice(subjects)} {r.choice(verbs)} {r.choice(objects)}"
        if r.random() < 0.3:
            s += f" near {r.choice(objects)}"
        out.append(s + " .")
    return out


def write_corpus(tmp_path: Path) -> tuple[Path, Path]:
    train, test = tmp_path / "tiny_train.txt", tmp_path / "tiny_test.txt"
    train.write_text("\n".join(grammar_sentences(200, 0)) + "\n", encoding="utf-8")
    test.write_text("\n".join(grammar_sentences(50, 1)) + "\n", encoding="utf-8")
    return train, test


def readme_command() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your own text\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "no bash block under '## Your own text'"
    (line,) = [x for x in match.group(1).splitlines() if x.strip()]
    return line


def test_readme_command_trains_within_its_estimate(tmp_path, capsys):
    train, test = write_corpus(tmp_path)
    line = readme_command()
    assert "my_sentences.txt" in line and "my_test.txt" in line
    argv = shlex.split(
        line.replace("my_sentences.txt", str(train)).replace("my_test.txt", str(test))
    )
    assert argv[:2] == ["seqadv", "train"]
    argv = argv[1:]
    argv[argv.index("--minutes") + 1] = "0.15"  # a tiny run
    run = tmp_path / "run"
    start = time.perf_counter()
    rc = main([*argv, "--out", str(run), "--set", "seed=3"])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert rc == 0, err
    match = re.search(r"estimated duration: ([0-9.]+)s", err)
    assert match, err
    assert "covers" in err and "vocabulary:" in err and "MLE epochs:" in err
    estimate = float(match.group(1))
    # within the estimate, with room for a loaded CI machine (quiet here: 9.5-12.4 s
    # against estimates of 11.2-11.7 s)
    assert elapsed <= 1.5 * estimate + 2, (elapsed, estimate)
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x]
    assert records
    bleu = [r for r in records if "eval/bleu2" in r]
    assert bleu and 0.0 <= bleu[-1]["eval/bleu2"] <= 1.0
    assert "nrefs:50" in bleu[-1]["eval/bleu_signature"]
    assert any(r.get("phase") == "adversarial" for r in records)
    config = (run / "config.yaml").read_text(encoding="utf-8")
    assert str(test) in config and "name: tiny_train" in config


def test_derived_settings(tmp_path):
    r = random.Random(5)
    lengths = [r.choice([3, 5, 8, 12, 20]) for _ in range(380)] + [60] * 20  # 5% very long
    lines = [" ".join(f"w{r.randrange(50)}" for _ in range(n)) for n in lengths]
    path = tmp_path / "my data.v2 (final)!.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = plan_own_text(str(path), tokenizer="space", minutes=1.0)
    cfg = plan.config
    ordered = sorted(lengths)
    assert cfg.data.max_len - 1 >= ordered[int(0.95 * len(ordered)) - 1]
    assert 8 <= cfg.data.max_len <= 64 and cfg.data.max_len < 61
    assert plan.info["coverage"] >= 0.95
    assert cfg.discriminator.n_negatives <= len(lines) and cfg.discriminator.n_real <= len(lines)
    assert cfg.eval.n_samples <= len(lines)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cfg.name) and cfg.name.startswith("my_data")
    assert cfg.adversarial.rounds >= 1 and cfg.pretrain.epochs >= 1
    assert cfg.pretrain.budget_minutes and cfg.adversarial.budget_minutes
    assert cfg.data.min_freq == 1  # 50 distinct words: all kept
    assert sanitize_name("../..") == "own_text"

    mle = plan_own_text(
        str(path),
        tokenizer="space",
        recipe="mle",
        minutes=1.0,
        overrides=["pretrain.epochs=7", "data.max_len=9"],
    )
    assert mle.config.adversarial.rounds == 0
    assert mle.config.pretrain.epochs == 7 and mle.config.data.max_len == 9  # --set wins


def test_large_vocabulary_drops_words_seen_once(tmp_path):
    path = tmp_path / "big.txt"
    words = [f"w{i}" for i in range(6000)]
    lines = [" ".join(words[i : i + 6]) for i in range(0, 6000, 6)]
    lines += ["w1 w2 w3 w4"] * 10
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = plan_own_text(str(path), tokenizer="space", recipe="mle", minutes=0.5)
    assert plan.config.data.min_freq == 2
    assert plan.info["vocab_size"] == 4 + 4


def test_data_with_config_or_resume_or_a_missing_file_is_an_error(tmp_path, capsys):
    train, _ = write_corpus(tmp_path)
    assert main(["train", "quickstart", "--data", str(train)]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--data", str(train)]) == 2
    assert "--resume" in capsys.readouterr().err
    missing = tmp_path / "nope.txt"
    assert main(["train", "--data", str(missing), "--out", str(tmp_path / "r")]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main(["train", "--data", str(train), "--test", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["train", "quickstart", "--minutes", "1"]) == 2
    assert "--data" in capsys.readouterr().err


def test_the_printed_vocabulary_is_the_one_built(tmp_path):
    from seqadv.experiment import build_data
    from seqadv.own_text import plan_own_text

    words = [f"w{i}" for i in range(60)]
    lines = [" ".join(words[(i * 7) % 60 : (i * 7) % 60 + 3 + i % 30]) for i in range(120)]
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = plan_own_text(str(path), minutes=0.05, recipe="mle")
    assert plan.info["vocab_size"] == len(build_data(plan.config.data).vocab)
