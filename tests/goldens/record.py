"""Re-record the goldens of tests/test_goldens.py (only after a deliberate change of values).

    python tests/goldens/record.py [NAME ...]

Runs each golden's command (``seqadv train <preset> --set seed=0 ...``) and writes its
evaluation records, timings left out. Say in the commit what changed the values and why.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("test_goldens", HERE.parent / "test_goldens.py")
goldens = importlib.util.module_from_spec(spec)
spec.loader.exec_module(goldens)


def record(name: str) -> None:
    from seqadv.cli import main

    preset, overrides = goldens.RUNS[name]
    with tempfile.TemporaryDirectory() as tmp:
        args = ["train", str(goldens.REPO / "experiments" / f"{preset}.yaml"), "--set", "seed=0"]
        args += ["--set", "kernels=plain"]  # the goldens are of the plain kernels (any machine)
        for item in overrides:
            args += ["--set", item]
        if "coco" in preset:  # the shared data where the tests find them
            shared = Path(__file__).resolve().parents[2].parent / "shared" / "data"
            args += ["--set", f"data.train_path={shared / 'coco' / 'train.txt'}"]
            args += ["--set", f"data.test_path={shared / 'coco' / 'test.txt'}"]
        if main([*args, "--out", f"{tmp}/run"]) != 0:
            raise SystemExit(f"{name}: the run failed")
        lines = []
        for line in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines():
            record = {k: v for k, v in json.loads(line).items() if not k.startswith("time/")}
            lines.append(json.dumps(record, sort_keys=True))
    (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    print(f"recorded {name}: {len(lines)} records")


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(goldens.RUNS):
        record(name)
