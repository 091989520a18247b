"""Every mistake in what a person gives ``seqadv`` exits 2 with one message, never a traceback.

The message names the argument (or the file) at fault and what would be valid; nothing is
written. An error of seqadv itself still raises (a traceback), which the last tests check.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqadv import cli_args
from seqadv.cli import main
from seqadv.data.oracle import SEQGAN_PICKLE_ORDER, import_seqgan_pickle, seeded_oracle_arrays
from seqadv.errors import DataError

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "experiments" / "mle_oracle_tiny.yaml"


def cli(*argv: object) -> tuple[int, str, str]:
    """``seqadv ARGV`` in this process: (exit status, stdout, stderr)."""
    import torch

    logger = logging.getLogger("seqadv")
    saved = (logger.handlers[:], logger.level, logger.propagate, torch.get_num_threads())
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse: usage and one error line
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved[:3]
        torch.set_num_threads(saved[3])
    return code, out.getvalue(), err.getvalue()


def assert_refused(result: tuple[int, str, str], *fragments: str) -> str:
    code, out, err = result
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert out == "", out
    last = err.strip().splitlines()[-1]
    assert "error: " in last, err
    for fragment in fragments:
        assert fragment in last, last
    return last


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny trained run directory, built once."""
    out = tmp_path_factory.mktemp("cli_errors") / "run"
    code, _, err = cli("-q", "train", TINY, "--set", "pretrain.epochs=1", "--out", out)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bleu")
    hyp, ref = folder / "hyp.txt", folder / "ref.txt"
    hyp.write_text("a cat sat on the mat\nthe dog barked\n", encoding="utf-8")
    ref.write_text("the cat sat on the mat\na dog barked loudly\n", encoding="utf-8")
    return hyp, ref


@pytest.fixture
def seqgan_pickle(tmp_path) -> Path:
    arrays = seeded_oracle_arrays(0, 10, 4, 6)
    path = tmp_path / "target_params.pkl"
    path.write_bytes(pickle.dumps([arrays[k] for k in SEQGAN_PICKLE_ORDER]))
    return path


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- numbers: refused where argparse reads them ---------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "named", "valid"),
    [
        (["sample", "RUN", "-n", "-5"], "argument -n:", "in 1..10000000"),
        (["sample", "RUN", "-n", "0"], "argument -n:", "in 1..10000000"),
        (["sample", "RUN", "-n", "many"], "argument -n:", "not an integer"),
        (["sample", "RUN", "--temperature", "0"], "argument --temperature:", "finite number > 0"),
        (["sample", "RUN", "--temperature", "nan"], "argument --temperature:", "finite"),
        (["sample", "RUN", "--temperature", "-1"], "argument --temperature:", "> 0"),
        (["sample", "RUN", "--temperature", "inf"], "argument --temperature:", "finite"),
        (["sample", "RUN", "--threads", "0"], "argument --threads:", "CPU count"),
        (["sample", "RUN", "--seed", "-1"], "argument --seed:", "in 0..9223372036854775807"),
        (["eval", "RUN", "--n-samples", "0"], "argument --n-samples:", "in 1..10000000"),
        (["eval", "RUN", "--n-samples", "-3"], "argument --n-samples:", "in 1..10000000"),
        (["eval", "RUN", "--threads", "0"], "argument --threads:", "in 1.."),
        (["oracle", "info", "--max-len", "0"], "argument --max-len:", "in 1..10000"),
        (["oracle", "info", "--max-len", "-3"], "argument --max-len:", "in 1..10000"),
        (["oracle", "info", "-n", "0"], "argument -n:", "in 1..10000000"),
        (["oracle", "info", "-n", "-2"], "argument -n:", "in 1..10000000"),
        (["oracle", "info", "--threads", "0"], "argument --threads:", "in 1.."),
        (["oracle", "info", "--seed", "-1"], "argument --seed:", "in 0.."),
        (
            ["bleu", "--hyp", "H", "--ref", "R", "--max-n", "100000000"],
            "argument --max-n:",
            "2..10",
        ),
        (["bleu", "--hyp", "H", "--ref", "R", "--max-n", "0"], "argument --max-n:", "2..10"),
        (
            ["plot", "RUN", "--out", "P", "--reference", "foo"],
            "argument --reference:",
            "LABEL=VALUE",
        ),
        (["plot", "RUN", "--out", "P", "--reference", "a=b"], "argument --reference:", "finite"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_a_number_out_of_range_is_refused_naming_the_argument(
    run, texts, tmp_path, argv, named, valid
):
    names = {"RUN": run, "H": texts[0], "R": texts[1], "P": tmp_path / "p.png"}
    last = assert_refused(cli(*(names.get(a, a) for a in argv)), named, valid)
    assert "num_envs" not in last and " ns " not in last and "max_size" not in last
    assert listing(tmp_path) == []


def test_eval_n_samples_0_is_not_the_configs_value(run):
    code, out, err = cli("eval", run, "--n-samples", "0", "--json")
    assert code == 2 and out == "" and "got '0'" in err


def test_a_valid_threads_value_runs(run):
    assert cli("sample", run, "-n", "2", "--threads", str(os.cpu_count() or 1))[0] == 0


def test_from_a_fresh_interpreter_the_exit_status_is_2(run):
    proc = subprocess.run(
        [sys.executable, "-m", "seqadv.cli", "sample", str(run), "-n", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "argument -n: must be an integer in 1..10000000, got '0'" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- sample --out ---------------------------------------------------------------------------------
def test_sample_out_onto_a_directory(run, tmp_path):
    assert_refused(cli("sample", run, "--out", tmp_path), f"--out {tmp_path}", "is a directory")
    assert listing(tmp_path) == []


def test_sample_out_into_a_missing_directory(run, tmp_path):
    target = tmp_path / "missing" / "s.txt"
    assert_refused(cli("sample", run, "--out", target), "--out", "does not exist")
    assert listing(tmp_path) == []


def test_sample_out_onto_the_checkpoint_it_reads(run):
    ckpt = run / "checkpoints" / "last.pt"
    before = ckpt.read_bytes()
    for source in (run, ckpt):
        assert_refused(cli("sample", source, "--out", ckpt), "--out", "is the checkpoint")
    assert_refused(cli("sample", run, "--out", run / "config.yaml"), "--out", "its config")
    assert ckpt.read_bytes() == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_sample_out_dev_full_is_one_line_naming_the_file(run):
    last = assert_refused(cli("sample", run, "-n", "3", "--out", "/dev/full"), "--out /dev/full")
    assert os.strerror(errno.ENOSPC) in last


def test_a_failed_write_names_the_file_and_leaves_nothing(run, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", disk_full)
    target = tmp_path / "s.txt"
    last = assert_refused(cli("sample", run, "--out", target), f"--out {target}: cannot write")
    assert os.strerror(errno.ENOSPC) in last
    assert listing(tmp_path) == []  # no partial file, no temporary file


def test_permission_denied_on_the_rename_names_the_file(run, tmp_path, monkeypatch):
    def denied(src, dst, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), src, dst)

    monkeypatch.setattr(os, "replace", denied)
    target = tmp_path / "s.txt"
    assert_refused(cli("sample", run, "--out", target), f"--out {target}", "Permission denied")
    assert listing(tmp_path) == []


def test_an_unreadable_checkpoint_names_it(run, monkeypatch):
    import seqadv.runs

    def unreadable(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(Path(path) / "x.pt"))

    monkeypatch.setattr(seqadv.runs, "read_run", unreadable)
    assert_refused(cli("sample", run), f"CHECKPOINT {run}", "cannot read: Permission denied")


# -- plot -----------------------------------------------------------------------------------------
def test_plot_a_directory_without_metrics(tmp_path):
    (tmp_path / "notarun").mkdir()
    last = assert_refused(cli("plot", tmp_path / "notarun", "--out", tmp_path / "p.png"))
    assert "no metrics.jsonl" in last
    assert not (tmp_path / "p.png").exists()


def test_plot_a_run_with_no_records_yet(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "metrics.jsonl").write_text("")
    assert_refused(cli("plot", tmp_path / "new", "--out", tmp_path / "p.png"), "no records")


def test_plot_out_into_a_missing_directory_or_onto_a_directory(run, tmp_path):
    missing = tmp_path / "nowhere" / "p.png"
    assert_refused(cli("plot", run, "--out", missing), f"--out {missing}", "does not exist")
    assert_refused(cli("plot", run, "--out", tmp_path), f"--out {tmp_path}", "is a directory")
    assert listing(tmp_path) == []


def test_plot_out_onto_the_metrics_it_reads(run):
    metrics = run / "metrics.jsonl"
    before = metrics.read_bytes()
    assert_refused(cli("plot", run, "--out", metrics), "--out", "the metrics file of run")
    assert metrics.read_bytes() == before


def test_plot_labels_must_fit_the_runs(run, tmp_path):
    out = tmp_path / "p.png"
    assert_refused(cli("plot", run, "--out", out, "--label", "a", "--label", "b"), "--label")
    argv = ("plot", run, run, "--out", out, "--label", "a", "--label", "a")
    assert_refused(cli(*argv), "--label 'a'")
    assert listing(tmp_path) == []


def test_plot_write_failure_names_the_file(run, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", disk_full)
    out = tmp_path / "p.png"
    assert_refused(cli("plot", run, "--out", out), f"--out {out}: cannot write")
    assert listing(tmp_path) == []


def test_plot_unreadable_metrics_names_the_file(run, tmp_path, monkeypatch):
    from seqadv.rundir import RunDir

    def unreadable(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self.metrics_path))

    monkeypatch.setattr(RunDir, "read_metrics", unreadable)
    assert_refused(cli("plot", run, "--out", tmp_path / "p.png"), "metrics.jsonl: cannot read")


def test_plot_with_a_good_reference_line(run, tmp_path):
    code, out, err = cli("plot", run, "--out", tmp_path / "p.png", "--reference", "paper=2.5")
    assert code == 0, err
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


# -- oracle ---------------------------------------------------------------------------------------
def test_oracle_import_onto_its_own_input_leaves_it_intact(seqgan_pickle, tmp_path):
    before = seqgan_pickle.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(seqgan_pickle)
    for out in (seqgan_pickle, tmp_path / ".." / tmp_path.name / seqgan_pickle.name, link):
        last = assert_refused(cli("oracle", "import-seqgan", seqgan_pickle, out), f"OUT {out}")
        assert "is the pickle being imported" in last
    assert seqgan_pickle.read_bytes() == before
    with pytest.raises(DataError, match="is the pickle being imported"):
        import_seqgan_pickle(seqgan_pickle, seqgan_pickle)
    assert seqgan_pickle.read_bytes() == before


def test_oracle_import_directories(seqgan_pickle, tmp_path):
    assert_refused(cli("oracle", "import-seqgan", tmp_path, tmp_path / "o.npz"), "PICKLE")
    assert_refused(cli("oracle", "import-seqgan", seqgan_pickle, tmp_path), "OUT", "directory")
    missing = tmp_path / "no" / "o.npz"
    assert_refused(cli("oracle", "import-seqgan", seqgan_pickle, missing), "does not exist")
    assert listing(tmp_path) == [seqgan_pickle.name]


def test_oracle_import_write_failure(seqgan_pickle, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", disk_full)
    out = tmp_path / "o.npz"
    assert_refused(cli("oracle", "import-seqgan", seqgan_pickle, out), f"OUT {out}: cannot write")
    assert listing(tmp_path) == [seqgan_pickle.name]


def test_oracle_info_of_a_directory_or_a_missing_file(tmp_path):
    assert_refused(cli("oracle", "info", tmp_path), f"PATH {tmp_path}", "is a directory")
    assert_refused(cli("oracle", "info", tmp_path / "o.npz"), "no such file")


# -- bleu -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["--hyp", "--ref"])
def test_bleu_missing_file_or_directory(texts, tmp_path, which):
    hyp, ref = texts
    files = {"--hyp": hyp, "--ref": ref}
    for bad, reason in ((tmp_path / "nope.txt", "No such file"), (tmp_path, "is a directory")):
        argv = ["bleu", *(x for k, v in {**files, which: bad}.items() for x in (k, v))]
        assert_refused(cli(*argv), f"{which} {bad}", reason)


# -- the rule's other half: seqadv's own errors keep their traceback --------------------------------
def test_an_internal_os_error_is_not_disguised(run, tmp_path, monkeypatch):
    import seqadv.plots

    def broken():
        raise FileNotFoundError(errno.ENOENT, "No such file", "/seqadv/internal/fonts.json")

    monkeypatch.setattr(seqadv.plots, "_pyplot", broken)
    with pytest.raises(FileNotFoundError):
        main(["plot", str(run), "--out", str(tmp_path / "p.png")])


def test_argument_types_directly():
    assert cli_args.count("7") == 7 and cli_args.seed("0") == 0
    assert cli_args.finite_positive_float("0.5") == 0.5
    assert cli_args.reference_line(" SeqGAN paper = 8.736") == ("SeqGAN paper", 8.736)
    for bad in ("", "1.5", "9" * 5000, "-1", str(cli_args.MAX_COUNT + 1)):
        with pytest.raises(Exception, match="integer|range"):
            cli_args.count(bad)


# -- fuzz: any value of any numeric argument gives exit 0, or exit 2 with a message ----------------
def _numbers(ints):
    return ints.map(str) | st.text(max_size=10)


_COUNTS = (
    st.integers(1, 200) | st.integers(-1000, 0) | st.integers(min_value=cli_args.MAX_COUNT + 1)
)
_THREADS = st.integers(1, os.cpu_count() or 1) | st.integers(-3, 3) | st.integers()
_TEMPS = st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.floats(0.05, 20).map(str)
_OPTIONS = {
    "sample": {
        "-n": _numbers(_COUNTS),
        "--temperature": _TEMPS | st.text(max_size=10),
        "--seed": _numbers(st.integers()),
        "--threads": _numbers(_THREADS),
    },
    "eval": {
        "--n-samples": _numbers(_COUNTS),
        "--seed": _numbers(st.integers()),
        "--threads": _numbers(_THREADS),
    },
    "bleu": {"--max-n": _numbers(st.integers())},
}


@st.composite
def _invocations(draw):
    command = draw(st.sampled_from(sorted(_OPTIONS)))
    options = _OPTIONS[command]
    chosen = draw(st.lists(st.sampled_from(sorted(options)), min_size=1, unique=True))
    return command, [(opt, draw(options[opt])) for opt in chosen]


@settings(max_examples=30, deadline=None, database=None)
@given(invocation=_invocations())
def test_fuzz_numeric_arguments(run, texts, invocation):
    command, options = invocation
    head = {
        "sample": ["sample", run],
        "eval": ["eval", run],
        "bleu": ["bleu", "--hyp", texts[0], "--ref", texts[1]],
    }[command]
    code, _, err = cli(*head, *(f"{opt}={value}" for opt, value in options))
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        last = err.strip().splitlines()[-1]
        assert "error: " in last, err
        assert any(f"argument {opt}" in last for opt, _ in options), last
