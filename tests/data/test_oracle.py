"""The synthetic oracle: .npz layout, SeqGAN's pickle (arrays only), and the oracle LSTM.

The torch oracle (an LSTMGenerator with rearranged weights) is checked against a plain numpy
implementation of the equations in ../shared/data/README.md.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqadv.data.oracle import (
    ORACLE_KEYS,
    SEQGAN_PICKLE_ORDER,
    import_seqgan_pickle,
    load_oracle_npz,
    load_seqgan_pickle,
    oracle_shapes,
    save_oracle_npz,
    seeded_oracle_arrays,
    validate_oracle_arrays,
)
from seqadv.errors import DataError, UnsafePickleError
from seqadv.models.oracle import OracleLSTM, load_oracle

V, E, H, T = 12, 6, 8, 5


# -- a numpy reference of the README's equations --------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_log_probs(arrays: dict[str, np.ndarray], sequences: np.ndarray) -> np.ndarray:
    """log p(x) of each row under the README's LSTM, in float64, one step at a time."""
    a = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    out = np.zeros(len(sequences))
    for n, seq in enumerate(sequences):
        h = np.zeros(a["Ui"].shape[0])
        c = np.zeros_like(h)
        prev = 0  # token 0 is the start input
        for tok in seq:
            x = a["emb"][prev]
            i = _sigmoid(x @ a["Wi"] + h @ a["Ui"] + a["bi"])
            f = _sigmoid(x @ a["Wf"] + h @ a["Uf"] + a["bf"])
            o = _sigmoid(x @ a["Wog"] + h @ a["Uog"] + a["bog"])
            g = np.tanh(x @ a["Wc"] + h @ a["Uc"] + a["bc"])
            c = f * c + i * g
            h = o * np.tanh(c)
            logits = h @ a["Wo"] + a["bo"]
            top = logits.max()
            out[n] += logits[tok] - top - np.log(np.exp(logits - top).sum())
            prev = int(tok)
    return out


def write_pickle(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def tiny_arrays(seed=0, dtype=np.float32):
    arrays = seeded_oracle_arrays(seed, V, E, H)
    return {k: v.astype(dtype) for k, v in arrays.items()}


# -- seeded arrays, validation, .npz --------------------------------------------------------------
def test_seeded_arrays_shapes_and_distribution():
    arrays = seeded_oracle_arrays(5, vocab_size=300, embed_dim=16, hidden_dim=16)
    assert list(arrays) == list(ORACLE_KEYS)
    assert {k: v.shape for k, v in arrays.items()} == oracle_shapes(300, 16, 16)
    assert all(v.dtype == np.float32 for v in arrays.values())
    flat = np.concatenate([v.ravel() for v in arrays.values()])
    assert abs(flat.mean()) < 0.02 and abs(flat.std() - 1.0) < 0.02  # N(0, 1), 15k draws
    scaled = seeded_oracle_arrays(5, 300, 16, 16, std=0.5)
    np.testing.assert_allclose(scaled["emb"], 0.5 * arrays["emb"], rtol=1e-6)


def test_seeded_arrays_depend_only_on_the_seed():
    a, b, c = (
        seeded_oracle_arrays(1, V, E, H),
        seeded_oracle_arrays(1, V, E, H),
        seeded_oracle_arrays(2, V, E, H),
    )
    assert all(np.array_equal(a[k], b[k]) for k in ORACLE_KEYS)
    assert not np.array_equal(a["emb"], c["emb"])


def test_seeded_arrays_are_the_same_in_a_fresh_process():
    code = (
        "import numpy as np, sys\n"
        "from seqadv.data.oracle import seeded_oracle_arrays\n"
        "a = seeded_oracle_arrays(9, 12, 6, 8)\n"
        "sys.stdout.write(repr(float(np.float64(a['Wo']).sum())))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == float(np.float64(seeded_oracle_arrays(9, V, E, H)["Wo"]).sum())


def test_validate_returns_sizes():
    assert validate_oracle_arrays(tiny_arrays()) == (V, E, H)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("Uog"), "missing oracle array(s) Uog"),
        (lambda a: a.update(bf=np.zeros(H + 1, np.float32)), "'bf' has shape (9,), expected (8,)"),
        (lambda a: a.update(Wo=np.zeros((H, V - 1), np.float32)), "'Wo' has shape"),
        (lambda a: a.update(emb=np.zeros(V, np.float32)), "must be matrices"),
        (lambda a: a.update(bo=np.zeros(V, np.int64)), "'bo' is not a float array"),
        (lambda a: a["Uc"].__setitem__((0, 0), np.nan), "'Uc' has NaN or infinite"),
        (lambda a: a["bi"].__setitem__(0, np.inf), "'bi' has NaN or infinite"),
    ],
)
def test_validation_errors_name_the_array(change, message):
    arrays = tiny_arrays()
    change(arrays)
    with pytest.raises(DataError, match=f"^where: .*{__import__('re').escape(message)}"):
        validate_oracle_arrays(arrays, where="where")


def test_npz_round_trip(tmp_path):
    arrays = tiny_arrays(dtype=np.float64)
    path = tmp_path / "sub" / "o.npz"
    save_oracle_npz(path, arrays)
    loaded = load_oracle_npz(path)
    assert sorted(loaded) == sorted(ORACLE_KEYS)
    for k in ORACLE_KEYS:
        assert loaded[k].dtype == np.float32
        np.testing.assert_array_equal(loaded[k], arrays[k].astype(np.float32))
    assert sorted(p.name for p in path.parent.iterdir()) == ["o.npz"]


def test_npz_is_read_without_pickles(tmp_path):
    arrays = tiny_arrays()
    arrays["bo"] = np.array([object()] * V, dtype=object)
    path = tmp_path / "o.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=f"{path}: not a readable .npz"):
        load_oracle_npz(path)


@pytest.mark.parametrize("kind", ["truncated", "text", "missing", "incomplete"])
def test_bad_npz_files(tmp_path, kind):
    path = tmp_path / "o.npz"
    good = tmp_path / "good.npz"
    save_oracle_npz(good, tiny_arrays())
    if kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "text":
        path.write_text("hello")
    elif kind == "incomplete":
        arrays = tiny_arrays()
        del arrays["Wc"]
        np.savez(path, **arrays)
    with pytest.raises(DataError, match=str(path)):
        load_oracle_npz(path)


# -- the published pickle ------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_of_15_arrays_is_converted(tmp_path, protocol):
    arrays = tiny_arrays(dtype=np.float64)
    pkl = write_pickle(tmp_path / "p.pkl", [arrays[k] for k in SEQGAN_PICKLE_ORDER], protocol)
    out = import_seqgan_pickle(pkl, tmp_path / "o.npz")
    loaded = load_oracle_npz(tmp_path / "o.npz")
    for k in ORACLE_KEYS:
        np.testing.assert_array_equal(loaded[k], arrays[k].astype(np.float32))
        np.testing.assert_array_equal(out[k], loaded[k])


def test_shared_pickle_converts_to_the_shared_npz_exactly(shared_data, tmp_path):
    out = tmp_path / "converted.npz"
    returned = import_seqgan_pickle(shared_data / "seqgan_target_params_py3.pkl", out)
    expected = load_oracle_npz(shared_data / "seqgan_oracle.npz")
    converted = load_oracle_npz(out)
    with np.load(shared_data / "seqgan_oracle.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(converted)
    assert sorted(converted) == sorted(expected) == sorted(ORACLE_KEYS)
    for k in ORACLE_KEYS:
        assert converted[k].dtype == expected[k].dtype == np.float32
        assert converted[k].shape == expected[k].shape
        assert np.array_equal(converted[k], expected[k]), k
        assert np.array_equal(returned[k], expected[k]), k
    assert converted["emb"].shape == (5000, 32) and converted["Wo"].shape == (32, 5000)


class MarkerPayload:
    """Unpickling this runs a shell command that creates ``path``."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


class EvalPayload:
    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (eval, (f"open({self.path!r}, 'w').close()",))


def _malicious(kind: str, marker):
    arrays = [a for a in tiny_arrays().values()]
    if kind == "system":
        return MarkerPayload(marker)
    if kind == "eval":
        return EvalPayload(marker)
    if kind == "after_arrays":
        return [*arrays[:-1], MarkerPayload(marker)]
    if kind == "inside_object_array":
        obj = np.empty(2, dtype=object)
        obj[0], obj[1] = MarkerPayload(marker), 1.0
        return [obj, *arrays[1:]]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["system", "eval", "after_arrays", "inside_object_array"])
@pytest.mark.parametrize("protocol", [2, 5])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, kind, protocol):
    marker = tmp_path / "pwned"
    control = tmp_path / "control"
    # the payload is live: an ordinary unpickler would run it
    pickle.loads(pickle.dumps(_malicious(kind, control), protocol=protocol))
    assert control.exists()

    pkl = write_pickle(tmp_path / "evil.pkl", _malicious(kind, marker), protocol)
    out = tmp_path / "out.npz"
    with pytest.raises(UnsafePickleError) as info:
        import_seqgan_pickle(pkl, out)
    assert str(info.value).startswith(f"{pkl}: refused to load")
    assert "only numpy arrays are admitted" in str(info.value)
    assert not marker.exists()
    assert not out.exists()


def test_pickle_asking_for_other_numpy_functions_is_refused(tmp_path):
    # GLOBAL 'numpy load' then a call: allowed module, forbidden name
    data = b"\x80\x02cnumpy\nload\nq\x00X\x03\x00\x00\x00/x/q\x01\x85q\x02Rq\x03."
    pkl = tmp_path / "np.pkl"
    pkl.write_bytes(data)
    with pytest.raises(UnsafePickleError, match="numpy.load"):
        load_seqgan_pickle(pkl)


class CodecPayload:
    def __reduce__(self):
        import codecs

        return (codecs.encode, ("abc", "rot13"))


def test_codecs_other_than_latin1_are_refused(tmp_path):
    assert pickle.loads(pickle.dumps(CodecPayload())) == "nop"  # the call is live
    pkl = write_pickle(tmp_path / "codec.pkl", [CodecPayload()], protocol=2)
    with pytest.raises(UnsafePickleError, match=f"^{pkl}: refused to load: .*'rot13'"):
        load_seqgan_pickle(pkl)


def test_persistent_ids_are_refused(tmp_path):
    import io

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "ext" if isinstance(obj, str) else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(["x"])
    pkl = tmp_path / "pid.pkl"
    pkl.write_bytes(buf.getvalue())
    with pytest.raises(UnsafePickleError, match="persistent"):
        load_seqgan_pickle(pkl)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"emb": np.zeros(3)}, "expected a list of 15 arrays"),
        ([np.zeros(3, np.float32)] * 14, "got list of length 14"),
        ([np.zeros(3, np.int64)] * 15, "item 'emb' is not a float numpy array"),
        ([1.0] * 15, "item 'emb' is not a float numpy array"),
    ],
)
def test_pickle_with_wrong_contents(tmp_path, obj, message):
    pkl = write_pickle(tmp_path / "w.pkl", obj)
    with pytest.raises(DataError, match=message):
        load_seqgan_pickle(pkl)


def test_pickle_with_wrong_shapes_is_not_written(tmp_path):
    arrays = tiny_arrays()
    arrays["Wc"] = np.zeros((E, H + 1), np.float32)
    pkl = write_pickle(tmp_path / "s.pkl", [arrays[k] for k in SEQGAN_PICKLE_ORDER])
    with pytest.raises(DataError, match="'Wc' has shape"):
        import_seqgan_pickle(pkl, tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("kind", ["truncated", "missing", "text"])
def test_unreadable_pickles(tmp_path, kind):
    pkl = tmp_path / "p.pkl"
    if kind == "truncated":
        full = pickle.dumps([np.zeros(100, np.float32)] * 15)
        pkl.write_bytes(full[: len(full) // 2])
    elif kind == "text":
        pkl.write_text("just text")
    with pytest.raises(DataError, match=str(pkl)):
        load_seqgan_pickle(pkl)


# -- the oracle as a model -------------------------------------------------------------------------
def test_torch_oracle_matches_numpy_reference():
    arrays = tiny_arrays(seed=3)
    oracle = OracleLSTM.from_arrays(arrays, max_len=T)
    g = torch.Generator().manual_seed(0)
    seqs = torch.cat([oracle.sample(6, generator=g), torch.randint(0, V, (6, T), generator=g)])
    seqs[0] = 0  # token 0 is an ordinary token too
    ours = oracle.log_prob(seqs).detach().double().numpy()
    ref = reference_log_probs(arrays, seqs.numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    # and a different oracle gives different numbers (the comparison can fail)
    assert not np.allclose(reference_log_probs(tiny_arrays(seed=4), seqs.numpy()), ours, atol=1e-3)


def test_shared_oracle_matches_numpy_reference(shared_data):
    arrays = load_oracle_npz(shared_data / "seqgan_oracle.npz")
    oracle = OracleLSTM.from_npz(shared_data / "seqgan_oracle.npz")
    assert (oracle.vocab_size, oracle.max_len, oracle.spec.hidden_dim) == (5000, 20, 32)
    g = torch.Generator().manual_seed(1)
    seqs = torch.cat([oracle.sample(3, generator=g), torch.randint(0, 5000, (2, 20), generator=g)])
    ours = oracle.log_prob(seqs).detach().double().numpy()
    ref = reference_log_probs(arrays, seqs.numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-4)


def test_shared_oracle_samples_score_about_5_74(shared_data):
    """The SeqGAN paper's "real data" line: the oracle's own samples, 5.74 nats per token."""
    oracle = load_oracle(shared_data / "seqgan_oracle.npz")
    samples = oracle.sample(2000, generator=torch.Generator().manual_seed(2024))
    assert samples.shape == (2000, 20)
    assert abs(oracle.nll(samples) - 5.74) < 0.05


def test_arrays_round_trip_through_the_model(tmp_path):
    arrays = tiny_arrays(seed=1)
    oracle = OracleLSTM.from_arrays(arrays, max_len=T)
    back = oracle.to_arrays()
    for k in ORACLE_KEYS:
        np.testing.assert_array_equal(back[k], arrays[k])
    oracle.save_npz(tmp_path / "o.npz")
    again = OracleLSTM.from_npz(tmp_path / "o.npz", max_len=T)
    x = oracle.sample(20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.log_prob(x), oracle.log_prob(x))
    assert again.source == str(tmp_path / "o.npz")


def test_seeded_oracle_and_load_oracle():
    a = load_oracle(None, seed=4, vocab_size=V, embed_dim=E, hidden_dim=H, max_len=T)
    b = OracleLSTM.from_seed(4, V, E, H, T)
    c = OracleLSTM.from_seed(5, V, E, H, T)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.output.weight, c.output.weight)
    assert "seed=4" in a.source
    for k, v in a.to_arrays().items():
        np.testing.assert_array_equal(v, seeded_oracle_arrays(4, V, E, H)[k])


def test_oracle_is_fixed_length_and_frozen():
    oracle = OracleLSTM.from_seed(0, V, E, H, T)
    assert not any(p.requires_grad for p in oracle.parameters())
    assert oracle.eos_id is None and oracle.start_id == 0 and oracle.pad_id == V
    x = oracle.sample(500, generator=torch.Generator().manual_seed(0))
    assert x.shape == (500, T) and x.min() >= 0 and x.max() < V
    assert bool((x == 0).any()), "token 0 is an ordinary token"
    assert oracle.token_mask(x).all()
    y = oracle.sample(500, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, y)


def test_oracle_nll_is_mean_per_token_negative_log_prob():
    oracle = OracleLSTM.from_seed(0, V, E, H, T)
    x = oracle.sample(64, generator=torch.Generator().manual_seed(3))
    expected = float(-oracle.log_prob(x).sum()) / x.numel()
    assert oracle.nll(x) == pytest.approx(expected, rel=1e-5)
    assert oracle.nll(x, batch_size=7) == pytest.approx(expected, rel=1e-5)
