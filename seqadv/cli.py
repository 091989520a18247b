"""The ``seqadv`` command: train | sample | eval | bleu | list | oracle."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import seqadv
from seqadv import cli_args as check
from seqadv.cli_catalog import (  # noqa: F401 - re-exported for users and tests
    DEFAULT_PRESET,
    REGISTRIES,
    _registry,
    cmd_list,
    find_preset,
    packaged_presets,
    trainable_presets,
)
from seqadv.errors import SeqadvError

log = logging.getLogger("seqadv")



# -- helpers ----------------------------------------------------------------------------------
def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("seqadv")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _remove_if_unused(path: Path, keep_dir: bool) -> None:
    """Remove a run directory this command made, if it holds only its empty folders and lock."""
    from seqadv.rundir import LOCK_NAME, RUN_FOLDERS

    try:
        entries = list(path.iterdir())
    except OSError:
        return
    if any(
        e.name not in (*RUN_FOLDERS, LOCK_NAME) or (e.is_dir() and any(e.iterdir())) for e in entries
    ):
        return
    for e in entries:
        e.rmdir() if e.is_dir() else e.unlink()
    if not keep_dir:
        path.rmdir()


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# -- train ------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from seqadv.adversarial import AdversarialTrainer
    from seqadv.config import load_config
    from seqadv.runs import RunDir

    if getattr(args, "data", None) is not None:
        if args.config or args.resume:
            raise SeqadvError(
                "--data TRAIN.txt builds its own config; drop "
                + ("CONFIG" if args.config else "--resume")
                + " (to train a preset on your file: CONFIG --set data.source=corpus "
                "--set data.train_path=TRAIN.txt)"
            )
    elif any(v is not None for v in (args.test, args.tokenizer, args.recipe, args.minutes)):
        raise SeqadvError("--test, --tokenizer, --recipe and --minutes go with --data TRAIN.txt")
    with _sigterm_as_interrupt():
        if args.resume:
            if args.config:
                raise SeqadvError(
                    "--resume RUN_DIR continues with the run's own config.yaml; drop CONFIG "
                    "(--set may only extend it: adversarial.rounds, pretrain.epochs, budgets)"
                )
            trainer = AdversarialTrainer.resume(
                args.resume,
                command=args.argv,
                allow_imports=args.allow_import,
                allow_changed_data=args.allow_changed_data,
                extend=args.set,
            )
        else:
            if args.allow_import or args.allow_changed_data:
                raise SeqadvError(
                    "--allow-import and --allow-changed-data are for --resume: a new run "
                    "imports what its CONFIG names and records the data it reads"
                )
            if args.data is not None:
                from seqadv.own_text import DEFAULT_MINUTES, plan_own_text

                plan = plan_own_text(
                    args.data,
                    args.test,
                    tokenizer=args.tokenizer or "nltk",
                    recipe=args.recipe or "seqgan",
                    minutes=DEFAULT_MINUTES if args.minutes is None else args.minutes,
                    overrides=args.set,
                )
                path, cfg = Path(args.data), plan.config
                print(plan.summary, file=sys.stderr)
            else:
                path = find_preset(args.config)
                cfg = load_config(path, args.set)
            existed = bool(args.out) and Path(args.out).exists()
            run = (
                RunDir.open(args.out, mode="new")
                if args.out
                else RunDir.new(cfg.name, root=args.runs_root)
            )
            print(f"seqadv {seqadv.__version__}: training {path} -> {run.path}", file=sys.stderr)
            try:
                trainer = AdversarialTrainer(
                    cfg, run=run, base_dir=Path(path).resolve().parent, command=args.argv
                )
            except BaseException:
                run.close()
                _remove_if_unused(run.path, keep_dir=existed)  # a failed start leaves nothing
                raise
            _log_estimate(trainer, log_it=args.data is None)  # --data printed its own
        try:
            final = trainer.fit()
        except KeyboardInterrupt:
            print(
                f"\ninterrupted; the last checkpoint is at the last finished epoch. "
                f"Continue with: seqadv train --resume {trainer.run.path}",
                file=sys.stderr,
            )
            return 130
        finally:
            trainer.run.close()
    _print_summary(trainer, final)
    return 0


def _log_estimate(trainer: Any, log_it: bool = True) -> None:
    """Price the run on this machine before it starts (a second or two at the presets'
    sizes) and give the trainer the later phases' share, for the whole run's ETA; a model
    the calibration cannot drive gets no estimate, not a failed start."""
    from seqadv.estimate import after_mle_seconds, describe, estimate_run

    cfg = trainer.cfg
    try:
        seconds, costs = estimate_run(cfg, trainer.data)
    except Exception as exc:  # noqa: BLE001 - an estimate is never worth a failed run
        log.info("no duration estimate (%s: %s)", type(exc).__name__, exc)
        return
    trainer.later_phases_s = after_mle_seconds(cfg, costs)
    if log_it:
        log.info("%s", describe(cfg, costs, seconds))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, a batch scheduler's stop) raises KeyboardInterrupt, as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_summary(trainer: Any, final: dict[str, Any]) -> None:
    records = trainer.records
    first = records[0] if records else {}
    print(
        f"\nrun: {trainer.run.path}  (seed {trainer.seed}, {trainer.cfg.threads} torch thread(s))"
    )
    print(f"data: {trainer.data.description}")
    keys = [k for k in final if k.startswith("eval/") and isinstance(final[k], (int, float))]
    mle = [r for r in records if r.get("phase") == "mle"]
    middle = mle[-1] if mle and final.get("phase") == "adversarial" else None
    if keys:
        width = max(len(k) for k in keys)
        head = f"{'metric':<{width}}  {'start':>9}"
        head += f"  {'after MLE':>9}" if middle is not None else ""
        print(head + f"  {'end':>9}")
        for k in keys:
            cells = [first.get(k)] + ([middle.get(k)] if middle is not None else []) + [final[k]]
            print(
                f"{k:<{width}}"
                + "".join(f"  {_fmt(c) if c is not None else '-':>9}" for c in cells)
            )
    if "eval/bleu_signature" in final:
        print(f"BLEU signature: {final['eval/bleu_signature']}")
    elapsed = final.get("time/elapsed_s")
    if elapsed is not None:
        print(f"wall time: {elapsed / 60:.1f} min")
    plot = trainer.run.path / "plots" / "learning_curve.png"
    if plot.is_file():
        print(f"learning curve: {plot}")
    print(f"metrics: {trainer.run.metrics_path}")


# -- sample -----------------------------------------------------------------------------------
def _load_run(path: str, allow_imports: list[str], overrides: list[str] | None = None):
    """The run's config (config.yaml for a run directory) and checkpoint, checked.

    Nothing the config names is imported unless ``--allow-import`` names its module or the
    person set that key with ``--set``.
    """
    from seqadv.config import apply_overrides, config_from_dict, config_to_dict
    from seqadv.recipe import registered_component
    from seqadv.runs import check_imports, read_run

    with check.reading(path, "CHECKPOINT"):
        cfg, ckpt, where = read_run(path)
    overrides = list(overrides or [])
    if overrides:
        data = apply_overrides(config_to_dict(cfg), overrides)
        cfg = config_from_dict(data, where=f"{where} with --set")
    keys = [item.partition("=")[0].strip() for item in overrides]
    check_imports(cfg, registered_component, allow_imports, where, named_by_you=keys)
    return cfg, ckpt


def _load_generator(ckpt: dict[str, Any], cfg: Any = None, data: Any = None):
    """The run's policy with its weights, its vocabulary, and the data it was rebuilt with.

    The built-in ``lstm`` generator is rebuilt from its spec alone (data: None); any other
    policy through GENERATORS from the run's config (``cfg``) and data (``data``, built from
    the config with the run's vocabulary when not given: a policy such as MaskGAN's reads
    real examples), with only the components the config names, checked by :func:`_load_run`.
    """
    from seqadv.data.vocab import Vocab
    from seqadv.errors import CheckpointError
    from seqadv.models import kernels

    name = ckpt.get("generator_name", "lstm")
    plan_mode = (ckpt.get("config") or {}).get("kernels", "auto")
    try:  # the run's own kernels, so that eval and sample reproduce its bits
        kernels.set_plan(kernels.stored_plan(ckpt.get("kernel_plan"), plan_mode, ckpt["path"]))
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    vocab = Vocab(ckpt["vocab"]) if ckpt.get("vocab") else None
    if name == "lstm" and ckpt.get("generator_spec"):
        from seqadv.models.generator import LSTMGenerator

        gen = LSTMGenerator.from_spec(ckpt["generator_spec"])
    elif cfg is not None:
        from seqadv.experiment import build_data, build_generator

        if data is None:
            data = build_data(cfg.data, vocab=vocab)
        gen = build_generator(cfg, data, seed=0)  # the weights are the checkpoint's
    else:
        raise CheckpointError(f"{ckpt['path']}: its policy {name!r} needs the run's config to be rebuilt")
    try:
        gen.load_state_dict(ckpt["generator"])
    except RuntimeError as exc:
        raise CheckpointError(f"{ckpt['path']}: its weights do not fit a {name!r} policy: {exc}") from None
    gen.eval()
    return gen, vocab, data


def _run_inputs(path: str) -> list[tuple[str, Path]]:
    """The files ``seqadv sample``/``eval`` read from CHECKPOINT (a run or a .pt file)."""
    p = Path(path)
    if p.is_dir():
        return [
            ("the checkpoint", p / "checkpoints" / "last.pt"),
            ("its config", p / "config.yaml"),
        ]
    found = [("the checkpoint", p)]
    if p.resolve().parent.name == "checkpoints":
        found.append(("its run's config", p.resolve().parent.parent / "config.yaml"))
    return found


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    if args.out:  # checked before anything is loaded
        check.check_output_file(args.out, "--out", _run_inputs(args.checkpoint), special=True)
    torch.set_num_threads(args.threads)
    cfg, ckpt = _load_run(args.checkpoint, args.allow_import)
    gen, vocab, data = _load_generator(ckpt, cfg)
    from seqadv.evaluation import cli_samples

    samples = cli_samples(gen, args.n, args.seed, args.temperature)
    tokenizer = cfg.data.tokenizer
    lines = []
    pad = getattr(gen, "pad_id", None)
    for row in samples.tolist():
        if vocab is None or args.ids:
            lines.append(" ".join(str(i) for i in row if i != pad))
        elif data is not None:
            lines.append(data.decode(row))
        else:
            lines.append(("" if tokenizer == "char" else " ").join(vocab.decode(row, strip=True)))
    text = "\n".join(lines) + "\n"
    if args.out:
        from seqadv.runs import atomic_write_text

        with check.writing(args.out, "--out"):
            if check.is_special_file(args.out):  # /dev/stdout, a pipe: written as it is
                with open(args.out, "w", encoding="utf-8") as fh:
                    fh.write(text)
            else:
                atomic_write_text(args.out, text)
        print(f"wrote {len(lines)} samples to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# -- eval -------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from seqadv.evaluation import cli_samples, evaluate_policy
    from seqadv.experiment import build_data
    from seqadv.runs import json_safe

    torch.set_num_threads(args.threads)
    cfg, ckpt = _load_run(args.checkpoint, args.allow_import, args.set)
    if args.n_samples is not None:
        cfg.eval.n_samples = args.n_samples
    from seqadv.data.fingerprint import check_same_data, data_fingerprint
    from seqadv.data.vocab import Vocab

    stored = ckpt.get("vocab") if args.allow_changed_data else None
    data = build_data(cfg.data, vocab=Vocab(stored) if stored else None)
    check_same_data(ckpt.get("data"), data_fingerprint(data), ckpt["path"], args.allow_changed_data)
    gen, _, _ = _load_generator(ckpt, cfg, data)
    samples = cli_samples(gen, cfg.eval.n_samples, args.seed, cfg.eval.temperature)
    metrics, _ = evaluate_policy(gen, data, cfg.eval, args.seed, "cli-eval", samples=samples)
    result = {
        "checkpoint": ckpt["path"],
        "seed": args.seed,
        "n_samples": cfg.eval.n_samples,
        "temperature": cfg.eval.temperature,
        **metrics,
    }
    if args.json:
        print(json.dumps(json_safe(result), allow_nan=False))
    else:
        for k, v in result.items():
            print(f"{k:<22} {_fmt(v)}")
    return 0


# -- oracle -----------------------------------------------------------------------------------
def cmd_oracle(args: argparse.Namespace) -> int:
    if args.oracle_cmd == "import-seqgan":
        from seqadv.data.oracle import load_seqgan_pickle, save_oracle_npz, validate_oracle_arrays

        if Path(args.pickle).is_dir():
            raise SeqadvError(f"PICKLE {args.pickle}: is a directory; give SeqGAN's pickle file")
        check.check_output_file(args.out, "OUT", [("the pickle being imported", args.pickle)])
        with check.reading(args.pickle, "PICKLE"):
            arrays = load_seqgan_pickle(args.pickle)
        validate_oracle_arrays(arrays, where=str(args.pickle))
        with check.writing(args.out, "OUT"):
            save_oracle_npz(args.out, arrays)
        v, e = arrays["emb"].shape
        print(f"wrote {args.out}: V={v}, embedding {e}, hidden {arrays['Ui'].shape[0]} (15 arrays)")
        return 0
    if args.oracle_cmd == "info":
        import torch

        from seqadv.models.oracle import load_oracle

        if args.path is not None:
            check.check_input_file(args.path, "PATH", "oracle .npz")
        torch.set_num_threads(args.threads)
        with check.reading(args.path, "PATH") if args.path else contextlib.nullcontext():
            oracle = load_oracle(args.path, seed=args.seed, max_len=args.max_len)
        g = torch.Generator().manual_seed(0)
        samples = oracle.sample(args.n, generator=g)
        print(f"oracle: {oracle.source}")
        print(f"V={oracle.vocab_size}, T={oracle.max_len}, hidden {oracle.spec.hidden_dim}")
        print(f"NLL of its own {args.n} samples: {oracle.nll(samples):.4f} per token")
        return 0
    raise SeqadvError(f"unknown oracle command {args.oracle_cmd!r}")


# -- plot -------------------------------------------------------------------------------------
def cmd_plot(args: argparse.Namespace) -> int:
    from seqadv.plots import DEFAULT_CURVE_KEYS, plot_learning_curve
    from seqadv.runs import RunDir

    keys = list(args.keys or DEFAULT_CURVE_KEYS)
    if len(args.label) > len(args.runs):
        raise SeqadvError(
            f"--label given {len(args.label)} times for {len(args.runs)} run(s); give at most "
            "one label per run, in the order of the runs"
        )
    twice = next((x for x in args.label if args.label.count(x) > 1), None)
    if twice is not None:
        raise SeqadvError(f"--label {twice!r} is given to two runs; labels must differ")
    labels = [*args.label, *(Path(p).name for p in args.runs[len(args.label) :])]
    for i in range(len(args.label), len(labels)):
        if labels.count(labels[i]) > 1:  # runs named alike: their paths tell them apart
            labels[i] = args.runs[i]
    for path in args.runs:
        if not (Path(path) / "metrics.jsonl").is_file():
            raise SeqadvError(f"{path}: no metrics.jsonl; is this a seqadv run directory?")
    inputs = [(f"the metrics file of run {p}", Path(p) / "metrics.jsonl") for p in args.runs]
    check.check_output_file(args.out, "--out", inputs)
    runs = []
    for path, label in zip(args.runs, labels):
        with check.reading(path, "RUN"):
            records = RunDir(Path(path), create=False).read_metrics()  # reads only
        if not records:
            raise SeqadvError(f"{path}/metrics.jsonl: no records yet (no evaluation finished)")
        if args.x == "time":
            records = [{**r, "x": r.get("time/elapsed_s", 0.0) / 60.0} for r in records]
        runs.append((label, records))
    (label, main_records), others = runs[0], dict(runs[1:])
    with check.writing(args.out, "--out"):
        path = plot_learning_curve(
            main_records,
            args.out,
            title=args.title or label,
            controls=others,
            keys=keys,
            reference_lines=dict(args.reference),
            main_label=label,
            xlabel="wall-clock minutes" if args.x == "time" else None,
        )
    if path is None:
        raise SeqadvError(f"none of {', '.join(keys)} is in {args.runs[0]}/metrics.jsonl")
    print(f"wrote {path}")
    return 0


# -- bleu -------------------------------------------------------------------------------------
def cmd_bleu(args: argparse.Namespace) -> int:
    from seqadv import bleu_command as bleu_cli

    return bleu_cli.run(args)


def _eval_sweep(argv: list[str]) -> int:
    from seqadv import sweep_command

    parser = argparse.ArgumentParser(
        prog="seqadv eval sweep", description=sweep_command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sweep_command.add_arguments(parser)
    args = parser.parse_args(argv[2:])
    _setup_logging(0)
    try:
        return int(sweep_command.run(args) or 0)
    except SeqadvError as exc:
        print(f"seqadv: error: {exc}", file=sys.stderr)
        return 2


def cmd_irgan(args: argparse.Namespace) -> int:
    from seqadv import irgan_command

    return irgan_command.run(args)


# -- parser -----------------------------------------------------------------------------------
THREADS_HELP = "torch threads, 1..this machine's CPU count (default: 1)"
ALLOW_IMPORT_HELP = (
    "import MODULE, which the run's config names as a dotted path 'MODULE:attr' (repeatable; "
    "a run's config imports nothing unless you name its modules here)"
)


def _run_loading_args(p: argparse.ArgumentParser, changed_data: bool) -> None:
    """The options of commands that load a run: ``--allow-import`` (and
    ``--allow-changed-data``)."""
    p.add_argument(
        "--allow-import", action="append", default=[], metavar="MODULE", help=ALLOW_IMPORT_HELP
    )
    if changed_data:
        p.add_argument(
            "--allow-changed-data",
            action="store_true",
            help="go on although the data differ from those the run recorded (its vocabulary "
            "is kept)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqadv",
        description="Text GANs trained with reinforcement learning.",
    )
    parser.add_argument("--version", action="version", version=f"seqadv {seqadv.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and results only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train from a YAML config (default: the built-in quickstart)")
    p.add_argument("config", nargs="?", help="config file or preset name (default: quickstart)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )
    p.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    p.add_argument(
        "--data",
        metavar="TRAIN.txt",
        help="train on your own text (one sentence per line); derives the config from it",
    )
    p.add_argument("--test", metavar="TEST.txt", help="with --data: held-out text (BLEU, NLL-test)")
    p.add_argument(
        "--tokenizer",
        choices=["nltk", "space", "char"],
        help="with --data: nltk (lower-cased words, default), space (whitespace) or char",
    )
    p.add_argument(
        "--recipe", choices=["mle", "seqgan"], help="with --data: MLE only or SeqGAN (default)"
    )
    p.add_argument(
        "--minutes",
        type=check.finite_positive_float,
        help="with --data: the time budget in minutes (default: 5)",
    )
    p.add_argument("--runs-root", default="runs", help="where new run directories go")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    _run_loading_args(p, changed_data=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="sample text from a checkpoint or run directory")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .pt checkpoint or a run directory")
    p.add_argument(
        "-n", type=check.count, default=10, help=f"how many sequences (1..{check.MAX_COUNT})"
    )
    p.add_argument(
        "--temperature",
        type=check.finite_positive_float,
        default=1.0,
        help="softmax temperature, a finite number > 0 (default: 1)",
    )
    p.add_argument("--seed", type=check.seed, default=0, help="seed, 0..2**63-1 (default: 0)")
    p.add_argument("--ids", action="store_true", help="print token ids instead of text")
    p.add_argument("--out", help="write to this file instead of standard output")
    p.add_argument("--threads", type=check.threads, default=1, help=THREADS_HELP)
    _run_loading_args(p, changed_data=False)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("eval", help="evaluate a checkpoint (NLL-oracle, NLL-test, BLEU)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .pt checkpoint or a run directory")
    p.add_argument(
        "--n-samples",
        type=check.count,
        help=f"generated sequences to score, 1..{check.MAX_COUNT} (default: eval.n_samples)",
    )
    p.add_argument(
        "--seed", type=check.seed, default=0, help="seed of the evaluation samples, 0..2**63-1"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the run's config (e.g. data.test_path=...)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--threads", type=check.threads, default=1, help=THREADS_HELP)
    _run_loading_args(p, changed_data=True)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bleu", help="Texygen-protocol BLEU / Self-BLEU of a text file")
    try:
        from seqadv import bleu_command as bleu_cli

        bleu_cli.add_arguments(p)
    except ImportError:  # pragma: no cover
        pass
    p.set_defaults(func=cmd_bleu)

    p = sub.add_parser("plot", help="learning curves of one or more runs on the same axes")
    p.add_argument(
        "runs", metavar="RUN", nargs="+", help="run directories (the first is the main curve)"
    )
    p.add_argument("--out", required=True, help="the PNG to write (in a directory that exists)")
    p.add_argument("--label", action="append", default=[], help="a label per run, in order")
    p.add_argument(
        "--keys",
        nargs="+",
        default=None,
        help="metrics to plot (default: NLL-oracle, NLL-test, BLEU-2, Self-BLEU-2, those present)",
    )
    p.add_argument("--x", choices=["epoch", "time"], default="epoch", help="x axis")
    p.add_argument(
        "--reference",
        action="append",
        type=check.reference_line,
        default=[],
        metavar="LABEL=VALUE",
        help="a horizontal line on the NLL-oracle panel, e.g. 'SeqGAN paper=8.736'",
    )
    p.add_argument("--title", default="")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "list", help="list presets, rewards, algorithms, discriminators, envs or runs"
    )
    p.add_argument(
        "what",
        nargs="?",
        default="presets",
        choices=["presets", "rewards", *sorted(REGISTRIES), "runs"],
    )
    p.add_argument("--runs-root", default="runs")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("irgan", help="IRGAN's released models: score them with seqadv's ranking metrics")
    from seqadv import irgan_command

    irgan_command.add_arguments(p)
    p.set_defaults(func=cmd_irgan)

    p = sub.add_parser("oracle", help="the synthetic oracle: import SeqGAN's, inspect one")
    osub = p.add_subparsers(dest="oracle_cmd", metavar="ORACLE_COMMAND")
    q = osub.add_parser(
        "import-seqgan", help="convert SeqGAN's target_params pickle to .npz (arrays only)"
    )
    q.add_argument("pickle", metavar="PICKLE", help="SeqGAN's target_params pickle")
    q.add_argument("out", metavar="OUT", help="the .npz to write (not the pickle itself)")
    q = osub.add_parser("info", help="describe an oracle and the NLL of its own samples")
    q.add_argument(
        "path", metavar="PATH", nargs="?", help=".npz oracle (default: the seeded oracle)"
    )
    q.add_argument("--seed", type=check.seed, default=0, help="seed of the seeded oracle")
    q.add_argument(
        "--max-len", type=check.max_len, default=20, help=f"sequence length, 1..{check.MAX_LEN}"
    )
    q.add_argument(
        "-n", type=check.count, default=2000, help=f"samples to score, 1..{check.MAX_COUNT}"
    )
    q.add_argument("--threads", type=check.threads, default=1, help=THREADS_HELP)
    p.set_defaults(func=cmd_oracle)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    if given[:2] == ["eval", "sweep"]:  # `seqadv eval sweep RUN...` (a run named sweep: ./sweep)
        return _eval_sweep(given)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["seqadv", *(sys.argv[1:] if argv is None else argv)]
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.command == "oracle" and not args.oracle_cmd:
        parser.parse_args(["oracle", "--help"])
    if args.command == "irgan" and not args.irgan_cmd:
        parser.parse_args(["irgan", "--help"])
    _setup_logging(-1 if args.quiet else args.verbose)
    try:
        return int(args.func(args) or 0)
    except SeqadvError as exc:
        print(f"seqadv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nseqadv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
