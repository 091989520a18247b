"""``seqadv bleu`` (seqadv.bleu_command): output, signature, bad files, exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import seqadv
from seqadv.bleu_command import add_arguments, run
from seqadv.data.tokenize import nltk_tokenize
from seqadv.metrics.bleu import bleu_many, self_bleu_many

HYPS = ["A cat sat on the mat.", "the dog barked", "a cat sat", "The cat"]
REFS = ["the cat sat on the mat.", "a dog barked loudly", "there is a cat", "a cat on a mat"]


def write(path: Path, lines: list[str] | bytes) -> Path:
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "hyp.txt", HYPS), write(tmp_path / "ref.txt", REFS)


def cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="seqadv bleu")
    add_arguments(parser)
    code = run(parser.parse_args([str(a) for a in argv]))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_keys_values_and_signature(files, capsys) -> None:
    hyp, ref = files
    code, out, err = cli(["--hyp", hyp, "--ref", ref, "--self", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    keys = [f"bleu{n}" for n in range(2, 6)] + [f"self_bleu{n}" for n in range(2, 6)]
    assert list(data) == keys + ["signature"]
    hyps = [nltk_tokenize(s) for s in HYPS]
    refs = [nltk_tokenize(s) for s in REFS]
    for n, r in bleu_many(hyps, refs).items():
        assert data[f"bleu{n}"] == r.score
    for n, r in self_bleu_many(hyps).items():
        assert data[f"self_bleu{n}"] == r.score
    sig = data["signature"]
    assert sig["metrics"] == ["bleu", "self_bleu"]
    assert sig["n"] == [2, 3, 4, 5]
    assert (sig["tokenizer"], sig["lowercase"]) == ("nltk", True)
    assert (sig["n_hypotheses"], sig["n_references"]) == (4, 4)
    assert sig["smoothing"] == "nltk-method1(epsilon=0.1)"
    assert sig["weights"] == "uniform"
    assert "mean" in sig["averaging"]
    assert sig["version"] == seqadv.__version__
    assert sig["strings"]["bleu"].startswith("bleu2..5|refs:all|nrefs:4|nhyps:4|")
    assert "nrefs:3" in sig["strings"]["self_bleu"]


def test_max_n_and_tokenizer(files, capsys) -> None:
    hyp, ref = files
    code, out, _ = cli(["--hyp", hyp, "--ref", ref, "--max-n", "3", "--json"], capsys)
    nltk_scores = json.loads(out)
    assert code == 0 and list(nltk_scores) == ["bleu2", "bleu3", "signature"]
    code, out, _ = cli(
        ["--hyp", hyp, "--ref", ref, "--max-n", "3", "--tokenizer", "space", "--json"], capsys
    )
    space = json.loads(out)
    assert (space["signature"]["tokenizer"], space["signature"]["lowercase"]) == ("space", False)
    assert space["bleu2"] != nltk_scores["bleu2"]  # "A", "The", "mat." differ
    code, out, _ = cli(
        ["--hyp", hyp, "--ref", ref, "--max-n", "2", "--tokenizer", "char", "--json"], capsys
    )
    assert code == 0 and json.loads(out)["bleu2"] > space["bleu2"]


def test_table(files, capsys) -> None:
    hyp, ref = files
    code, out, _ = cli(["--hyp", hyp, "--ref", ref, "--self"], capsys)
    assert code == 0
    for label in ("BLEU-2", "BLEU-5", "Self-BLEU-2", "Self-BLEU-5", "signature (bleu)"):
        assert label in out
    assert "tokenizer nltk, lower-cased" in out


def test_self_only(files, capsys) -> None:
    hyp, _ = files
    code, out, _ = cli(["--hyp", hyp, "--self", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and "bleu2" not in data and "self_bleu5" in data
    assert data["signature"]["n_references"] is None


def test_empty_hypotheses_count_and_empty_references_are_skipped(tmp_path, files, capsys) -> None:
    hyp_file, ref = files
    hyp = write(tmp_path / "gaps.txt", ["a cat sat", "", "   ", "the dog barked"])
    code, out, err = cli(["--hyp", hyp, "--ref", ref, "--json"], capsys)
    assert code == 0
    assert f"{hyp}: 2 empty hypothesis line(s)" in err and "first at line 2" in err
    data = json.loads(out)
    assert data["signature"]["n_hypotheses"] == 4  # an empty generated sentence still counts
    clean = write(tmp_path / "clean.txt", ["a cat sat", "the dog barked"])
    _, out2, err2 = cli(["--hyp", clean, "--ref", ref, "--json"], capsys)
    assert err2 == ""
    assert abs(data["bleu4"] - json.loads(out2)["bleu4"] / 2) < 1e-12  # two zeros in the mean
    gappy_ref = write(tmp_path / "gappy_ref.txt", ["a cat sat", "", "the dog barked"])
    _, out3, err3 = cli(["--hyp", clean, "--ref", gappy_ref, "--json"], capsys)
    assert f"{gappy_ref}:2: warning: empty line (no tokens) skipped" in err3
    assert json.loads(out3)["signature"]["n_references"] == 2


def test_crlf_and_byte_order_mark(tmp_path, files, capsys) -> None:
    hyp, ref = files
    crlf = write(tmp_path / "crlf.txt", b"\xef\xbb\xbf" + "\r\n".join(HYPS).encode() + b"\r\n")
    _, plain, _ = cli(["--hyp", hyp, "--ref", ref, "--json"], capsys)
    code, out, err = cli(["--hyp", crlf, "--ref", ref, "--json"], capsys)
    assert code == 0 and err == ""
    assert json.loads(out)["bleu4"] == json.loads(plain)["bleu4"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"\n\n  \n", "no sentences"),
        (b"a cat\nthe dog\n\xff\xfe bad\nfine\n", ":3: error: not valid UTF-8"),
    ],
)
def test_unusable_files_exit_2(tmp_path, files, capsys, content: bytes, message: str) -> None:
    _, ref = files
    bad = write(tmp_path / "bad.txt", content)
    for argv in (["--hyp", bad, "--ref", ref], ["--hyp", ref, "--ref", bad]):
        code, out, err = cli(argv, capsys)
        assert code == 2 and out == ""
        assert str(bad) in err and message in err
        assert "Traceback" not in err


def test_missing_file_and_missing_options(tmp_path, files, capsys) -> None:
    hyp, ref = files
    code, _, err = cli(["--hyp", tmp_path / "nope.txt", "--ref", ref], capsys)
    assert code == 2 and "cannot read" in err and "nope.txt" in err
    code, _, err = cli(["--hyp", tmp_path, "--ref", ref], capsys)  # a directory
    assert code == 2 and "cannot read" in err
    code, _, err = cli(["--hyp", hyp], capsys)  # neither --ref nor --self
    assert code == 2 and "--ref" in err
    one = write(tmp_path / "one.txt", ["just one sentence"])
    code, _, err = cli(["--hyp", one, "--self"], capsys)
    assert code == 2 and "at least 2" in err
    with pytest.raises(SystemExit) as exc:
        cli(["--hyp", hyp, "--ref", ref, "--max-n", "1"], capsys)
    assert exc.value.code == 2


def _module(*argv: str | Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "seqadv.bleu_command", *map(str, argv)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_python_dash_m_entry_point(tmp_path, files) -> None:
    hyp, ref = files
    done = _module("--hyp", hyp, "--ref", ref, "--json", "--max-n", "2")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"bleu2", "signature"}
    bad = write(tmp_path / "latin1.txt", "café crème\n".encode("latin-1"))
    done = _module("--hyp", bad, "--ref", ref)
    assert done.returncode == 2
    assert f"{bad}:1: error: not valid UTF-8" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_import_is_cheap() -> None:
    code = (
        "import sys, seqadv; before = set(sys.modules); import seqadv.bleu_command; "
        "heavy = {'torch', 'numpy', 'nltk', 'sacrebleu'} & (set(sys.modules) - before); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
