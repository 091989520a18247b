"""Components from a user's own file: ``./rewards_here.py:fn``, ``/abs/rewards.py:fn``, and a
dotted ``rewards_here:fn`` from the working directory (no PYTHONPATH needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from seqadv.cli import main
from seqadv.errors import ConfigError
from seqadv.registry import import_dotted
from seqadv.rewards import resolve_reward
from seqadv.rundir import DottedName

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "experiments" / "seqgan_oracle_tiny.yaml"

REWARD_SOURCE = (
    "import torch\n"
    "CALLS = []\n"
    "def my_reward(logits, **kwargs):\n"
    "    CALLS.append(1)\n"
    "    return torch.sigmoid(logits)\n"
)


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """A tmp dir holding ``rewards_here.py``, made the working directory (not on sys.path)."""
    (tmp_path / "rewards_here.py").write_text(REWARD_SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "rewards_here", raising=False)
    yield tmp_path
    sys.modules.pop("rewards_here", None)


def test_a_relative_file_path_reward_resolves(here):
    bound = resolve_reward({"name": "./rewards_here.py:my_reward"})
    assert bound.fn.__name__ == "my_reward"
    assert "rewards_here" not in sys.modules  # loaded as a file, not as a module
    again = resolve_reward({"name": "./rewards_here.py:my_reward"})
    assert again.fn is bound.fn  # cached: the same object
    assert import_dotted(f"{here / 'rewards_here.py'}:my_reward") is bound.fn  # same file


def test_an_absolute_file_path_reward_resolves(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "rewards_here.py").write_text(REWARD_SOURCE)
    bound = resolve_reward(f"{folder / 'rewards_here.py'}:my_reward")
    assert bound.fn.__name__ == "my_reward"
    assert bound.fn.__module__ in sys.modules


def test_two_files_of_the_same_name_do_not_clash(tmp_path):
    for sub, value in (("a", 1), ("b", 2)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "same.py").write_text(f"VALUE = {value}\n")
    assert import_dotted(f"{tmp_path / 'a' / 'same.py'}:VALUE") == 1
    assert import_dotted(f"{tmp_path / 'b' / 'same.py'}:VALUE") == 2


def test_a_dotted_module_in_the_working_directory_resolves(here):
    path_before = list(sys.path)
    bound = resolve_reward("rewards_here:my_reward")
    assert bound.fn.__name__ == "my_reward"
    assert sys.path == path_before  # the working directory was only added for the import


def test_a_dotted_module_that_is_nowhere_is_still_a_config_error(here):
    with pytest.raises(ConfigError, match="no_such_module_here"):
        import_dotted("no_such_module_here:fn")


@pytest.mark.parametrize(
    ("source", "name", "fragments"),
    [
        (None, "./missing.py:my_reward", ["missing.py"]),
        (REWARD_SOURCE, "./broken.py:not_there", ["broken.py", "not_there"]),
        ("def my_reward(:\n", "./broken.py:my_reward", ["broken.py", "syntax error"]),
        ("raise RuntimeError('boom')\n", "./broken.py:my_reward", ["broken.py", "boom"]),
    ],
)
def test_file_errors_are_config_errors_naming_the_file(here, source, name, fragments):
    if source is not None:
        (here / "broken.py").write_text(source)
    with pytest.raises(ConfigError) as info:
        resolve_reward({"name": name})
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_file_path_names_the_file_as_its_module():
    d = DottedName("env.reward.name", "./x/myreward.py:fn", "rewards")
    assert d.module == "./x/myreward.py" and d.is_file
    assert d.allowed_by(["./x/myreward.py"])
    assert d.allowed_by([str(Path("x/myreward.py").resolve())])
    assert not d.allowed_by(["x.myreward", "myreward"])
    plain = DottedName("env.reward.name", "mypkg.rewards:fn", "rewards")
    assert plain.module == "mypkg.rewards" and not plain.is_file


@pytest.mark.parametrize("absolute", [False, True])
def test_a_tiny_training_run_uses_a_file_reward(here, absolute, capsys):
    name = f"{here / 'rewards_here.py'}:my_reward" if absolute else "./rewards_here.py:my_reward"
    out = here / "run"
    code = main(
        [
            "-q",
            "train",
            str(TINY),
            "--set",
            f"env.reward={name}",
            "--set",
            "adversarial.rounds=1",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert name in (out / "config.yaml").read_text()
    fn = import_dotted(name)
    assert sys.modules[fn.__module__].CALLS  # the run called the file's reward


def test_a_run_naming_a_file_reward_is_refused_on_resume_unless_allowed(here, capsys):
    out = here / "run"
    name = "./rewards_here.py:my_reward"
    argv = ["-q", "train", str(TINY), "--set", f"env.reward={name}"]
    assert main([*argv, "--set", "adversarial.rounds=1", "--out", str(out)]) == 0
    capsys.readouterr()
    code = main(["-q", "train", "--resume", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "./rewards_here.py" in err and "--allow-import ./rewards_here.py" in err
    code = main(["-q", "train", "--resume", str(out), "--allow-import", "./rewards_here.py"])
    assert code == 0, capsys.readouterr().err
    absolute = str(here / "rewards_here.py")
    assert main(["-q", "eval", str(out), "--json", "--allow-import", absolute]) == 0


def test_check_imports_treats_a_file_path_as_foreign_code(here):
    from seqadv.adversarial import registered_component
    from seqadv.config import load_config
    from seqadv.rundir import ForeignCodeError, check_imports

    cfg = load_config(str(TINY))
    cfg.env.reward.name = "./seqadv.py:fn"  # a file named seqadv.py is not seqadv
    with pytest.raises(ForeignCodeError, match=r"would run file '\./seqadv\.py'"):
        check_imports(cfg, registered_component)
    (allowed,) = check_imports(cfg, registered_component, ["./seqadv.py"])
    assert allowed.module == "./seqadv.py"
    assert check_imports(cfg, registered_component, [str(here / "seqadv.py")]) == [allowed]
    with pytest.raises(ForeignCodeError):
        check_imports(cfg, registered_component, ["seqadv"])
