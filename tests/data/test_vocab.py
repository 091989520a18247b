"""seqadv.data.vocab: building (min_freq, max_size, tie order), encoding, JSON files."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqadv.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab
from seqadv.errors import DataError

SENTENCES = [["b", "a", "c", "a"], ["d", "b", "a"], ["c", "e"], ["b"]]
# counts: a 3, b 3, c 2, d 1, e 1


def test_specials_come_first_with_fixed_ids():
    v = Vocab.build(SENTENCES)
    assert v.itos[:4] == [PAD, BOS, EOS, UNK] == list(SPECIALS)
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert [v.stoi[s] for s in SPECIALS] == [0, 1, 2, 3]


def test_order_is_by_frequency_then_alphabetical():
    v = Vocab.build(SENTENCES)
    assert v.itos[4:] == ["a", "b", "c", "d", "e"]
    # the input order of sentences does not matter
    assert Vocab.build(list(reversed(SENTENCES))) == v
    assert Vocab.build([["z", "y", "x", "y"]]).itos[4:] == ["y", "x", "z"]


def test_min_freq():
    assert Vocab.build(SENTENCES, min_freq=2).itos[4:] == ["a", "b", "c"]
    assert Vocab.build(SENTENCES, min_freq=3).itos[4:] == ["a", "b"]
    assert Vocab.build(SENTENCES, min_freq=4).itos == list(SPECIALS)


def test_max_size_counts_specials_and_drops_the_rarest():
    assert Vocab.build(SENTENCES, max_size=6).itos[4:] == ["a", "b"]
    assert len(Vocab.build(SENTENCES, max_size=7)) == 7
    assert Vocab.build(SENTENCES, max_size=7).itos[4:] == ["a", "b", "c"]
    assert len(Vocab.build(SENTENCES, max_size=100)) == 9
    assert Vocab.build(SENTENCES, min_freq=2, max_size=6).itos[4:] == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"min_freq": 0}, "min_freq"), ({"max_size": 4}, "max_size")]
)
def test_bad_build_arguments(kwargs, message):
    with pytest.raises(DataError, match=message):
        Vocab.build(SENTENCES, **kwargs)


def test_special_tokens_in_text_are_not_duplicated():
    v = Vocab.build([["<unk>", "a", "<eos>", "<pad>", "<bos>"]])
    assert v.itos == [*SPECIALS, "a"]
    assert v.encode(["<unk>", "a"]) == [v.unk_id, 4]


def test_encode_maps_unknown_to_unk_and_decode_inverts():
    v = Vocab.build(SENTENCES)
    ids = v.encode(["a", "zzz", "e"])
    assert ids == [4, v.unk_id, 8]
    assert v.decode(ids) == ["a", UNK, "e"]
    assert "a" in v and "zzz" not in v


def test_decode_strip_stops_at_eos_and_drops_pad_and_bos():
    v = Vocab.build(SENTENCES)
    ids = [v.bos_id, 4, v.pad_id, 5, v.eos_id, 6, v.pad_id]
    assert v.decode(ids, strip=True) == ["a", "b"]
    assert v.decode(ids) == [BOS, "a", PAD, "b", EOS, "c", PAD]
    assert v.decode([v.eos_id, 99], strip=True) == []  # nothing after EOS is read


@pytest.mark.parametrize("bad", [9, 100, -1])
def test_decode_out_of_range_is_an_error(bad):
    v = Vocab.build(SENTENCES)
    with pytest.raises(DataError, match=f"id {bad} is outside the vocabulary"):
        v.decode([4, bad])


def test_constructor_checks():
    with pytest.raises(DataError, match="must start with"):
        Vocab(["a", "b"])
    with pytest.raises(DataError, match="'a' appears twice"):
        Vocab([*SPECIALS, "a", "b", "a"])


# -- files ---------------------------------------------------------------------------------------
def test_json_round_trip(tmp_path):
    v = Vocab.build([["héllo", "世界", "a b", '"q"', "\\"]] + SENTENCES)
    path = tmp_path / "vocab.json"
    v.save(path)
    assert Vocab.load(path) == v
    assert Vocab.load(path).itos == v.itos
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "seqadv.vocab/1" and data["tokens"] == v.itos
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vocab.json"]


@settings(deadline=None)
@given(st.lists(st.lists(st.text(min_size=1, max_size=5), max_size=6), max_size=6))
def test_round_trips_hold_for_any_tokens(sentences):
    v = Vocab.build(sentences)
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    for sent in sentences:
        clean = [t for t in sent if t not in SPECIALS]
        assert v.decode(v.encode(clean)) == clean
    assert len(set(v.itos)) == len(v)


def test_equality():
    assert Vocab.build(SENTENCES) == Vocab.build(SENTENCES)
    assert Vocab.build(SENTENCES) != Vocab.build(SENTENCES, min_freq=2)
    assert Vocab.build(SENTENCES) != list(Vocab.build(SENTENCES).itos)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b'["<pad>", "<bos>"]', "not a seqadv vocabulary"),
        (b'{"tokens": ["<pad>"]}', "not a seqadv vocabulary"),
        (b'{"format": "seqadv.vocab/1"}', "not a seqadv vocabulary"),
        (b'{"format": "seqadv.vocab/1", "tokens": [1, 2]}', "'tokens' must be a list of strings"),
        (b'{"format": "seqadv.vocab/1", "tokens": ["a"]}', "must start with"),
        (
            b'{"format": "seqadv.vocab/1", "tokens": ["<pad>","<bos>","<eos>","<unk>","x","x"]}',
            "appears twice",
        ),
    ],
)
def test_bad_files_are_data_errors(tmp_path, content, message):
    path = tmp_path / "v.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        Vocab.load(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file_and_directory_name_the_path(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'nope.json'}: vocabulary file not found"):
        Vocab.load(tmp_path / "nope.json")
    with pytest.raises(DataError, match=str(tmp_path)):
        Vocab.load(tmp_path)
