"""seqadv.data.ptb: PTB as MaskGAN's official loader reads it (streams, <eos>, vocabulary)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqadv.data.ptb import PTB_FILES, PTBStreams, load_ptb, ptb_vocab, read_ptb_words, windows
from seqadv.errors import DataError

TRAIN = " a b c \n b c <unk> \n c \n"
# words: a b c <eos> b c <unk> <eos> c <eos>
# counts: c 3, <eos> 3, b 2, <unk> 1, a 1 -> ties alphabetically ("<" sorts before letters)
TRAIN_VOCAB = {"<eos>": 0, "c": 1, "b": 2, "<unk>": 3, "a": 4}
VALID = " a z \n q a \n"  # z and q are not in the training vocabulary
TEST = " c b a \n"


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@pytest.fixture
def ptb_dir(tmp_path: Path) -> Path:
    for split, text in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        write(tmp_path / PTB_FILES[split], text)
    return tmp_path


# -- reading ---------------------------------------------------------------------------------------
def test_each_line_is_its_words_then_eos(tmp_path):
    words = read_ptb_words(write(tmp_path / "t.txt", TRAIN))
    assert words == ["a", "b", "c", "<eos>", "b", "c", "<unk>", "<eos>", "c", "<eos>"]


def test_eos_is_never_glued_to_a_word_and_empty_lines_give_a_lone_eos(tmp_path):
    # no trailing spaces, an empty line, no final newline
    words = read_ptb_words(write(tmp_path / "t.txt", "x y\n\nz\tw\r\nlast"))
    assert words == ["x", "y", "<eos>", "<eos>", "z", "w", "<eos>", "last"]


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "ptb.train.txt"
    with pytest.raises(DataError, match=re.escape(f"{path}: file not found")):
        read_ptb_words(path)
    with pytest.raises(DataError, match="is a directory"):
        read_ptb_words(tmp_path)


def test_missing_split_in_a_directory_names_that_file(ptb_dir):
    (ptb_dir / "ptb.test.txt").unlink()
    with pytest.raises(DataError, match=re.escape(f"{ptb_dir / 'ptb.test.txt'}: file not found")):
        load_ptb(ptb_dir)
    with pytest.raises(DataError, match="PTB directory not found"):
        load_ptb(ptb_dir / "nowhere")


def test_non_utf8_file_names_the_file_and_line(tmp_path):
    path = write(tmp_path / "bad.txt", b" a b \n c \xff d \n")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: not valid UTF-8 at byte 3 ")):
        read_ptb_words(path)


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_ptb_words(write(tmp_path / "e.txt", "  \t "))


# -- vocabulary ------------------------------------------------------------------------------------
def test_vocabulary_is_by_count_then_alphabetical(tmp_path):
    vocab = ptb_vocab(read_ptb_words(write(tmp_path / "t.txt", TRAIN)))
    assert vocab == TRAIN_VOCAB
    assert list(vocab) == ["<eos>", "c", "b", "<unk>", "a"]  # iteration order is id order
    assert ptb_vocab(["b", "B", "a", "b"]) == {"b": 0, "B": 1, "a": 2}  # code-point order
    with pytest.raises(DataError):
        ptb_vocab([])


# -- streams ---------------------------------------------------------------------------------------
def test_streams_and_unknown_words_mapped_to_unk_and_counted(ptb_dir):
    s = load_ptb(ptb_dir)
    assert s.word_to_id == TRAIN_VOCAB and s.id_to_word == list(TRAIN_VOCAB)
    assert s.eos_id == 0 and s.unk_id == 3 and s.vocab_size == 5
    for t in (s.train, s.valid, s.test):
        assert t.dtype == torch.int64 and t.dim() == 1
    assert s.train.tolist() == [4, 2, 1, 0, 2, 1, 3, 0, 1, 0]
    assert s.valid.tolist() == [4, 3, 0, 3, 4, 0]  # z and q -> <unk>
    assert s.test.tolist() == [1, 2, 4, 0]
    assert s.oov == {"train": 0, "valid": 2, "test": 0}
    assert s.decode(s.valid) == ["a", "<unk>", "<eos>", "<unk>", "a", "<eos>"]
    assert s.encode(["c", "zzz"]) == [1, 3]
    assert s.split("test") is s.test
    with pytest.raises(DataError, match="outside"):
        s.decode([5])


def test_oov_policies_drop_as_the_official_loader_or_error(ptb_dir):
    dropped = load_ptb(ptb_dir, oov="drop")
    assert dropped.valid.tolist() == [4, 0, 4, 0] and dropped.oov["valid"] == 2
    with pytest.raises(DataError, match=re.escape(f"{ptb_dir / 'ptb.valid.txt'}: 2 words")):
        load_ptb(ptb_dir, oov="error")
    with pytest.raises(DataError, match="oov must be one of"):
        load_ptb(ptb_dir, oov="ignore")


def test_paths_as_a_mapping_or_a_sequence(ptb_dir):
    paths = [ptb_dir / PTB_FILES[s] for s in ("train", "valid", "test")]
    a = load_ptb(paths)
    b = load_ptb(dict(zip(("train", "valid", "test"), paths, strict=True)))
    assert torch.equal(a.valid, b.valid) and a.paths == b.paths
    with pytest.raises(DataError, match="three"):
        load_ptb(paths[:2])


def test_unk_policy_needs_an_unk_in_the_training_file(tmp_path):
    for split, text in (("train", " a \n"), ("valid", " b \n"), ("test", " a \n")):
        write(tmp_path / PTB_FILES[split], text)
    with pytest.raises(DataError, match="no <unk>"):
        load_ptb(tmp_path)


# -- windows ---------------------------------------------------------------------------------------
def test_windows_are_consecutive_and_drop_the_tail():
    stream = torch.arange(10)
    w = windows(stream, 3)
    assert w.shape == (3, 3)
    assert w.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # 9 dropped
    assert windows(stream, 3, stride=2).tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]]
    assert windows(stream, 5).tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert windows(stream, 11).shape == (0, 11)
    assert windows(stream, 3).dtype == stream.dtype


@pytest.mark.parametrize(
    "args", [(torch.zeros(2, 3), 2), (torch.arange(5), 0), (torch.arange(5), 2, 0)]
)
def test_windows_refuse_bad_arguments(args):
    with pytest.raises(DataError):
        windows(*args)


# -- the real files ----------------------------------------------------------------------------
_LOADED: dict[Path, PTBStreams] = {}  # read the real files once per test session


@pytest.fixture
def real_ptb(shared_data: Path) -> PTBStreams:
    """The real PTB streams from the shared data (SEQADV_SHARED_DATA), or skip."""
    directory = shared_data / "ptb"
    if not all((directory / name).is_file() for name in PTB_FILES.values()):
        pytest.skip(f"PTB files not found in {directory}")
    if directory not in _LOADED:
        _LOADED[directory] = load_ptb(directory)
    return _LOADED[directory]


def test_real_ptb_train_stream_and_vocabulary(real_ptb):
    s = real_ptb
    assert s.train.numel() == 929_589
    eos = int((s.train == s.eos_id).sum())
    assert eos == 42_068 and s.train.numel() - eos == 887_521
    assert s.vocab_size == 10_000 and len(s.word_to_id) == 10_000
    assert "<eos>" in s.word_to_id and "<unk>" in s.word_to_id
    assert (s.word_to_id["the"], s.unk_id, s.eos_id) == (0, 1, 2)


def test_real_ptb_valid_and_test_have_no_oov_words(real_ptb):
    assert real_ptb.oov == {"train": 0, "valid": 0, "test": 0}
    assert int((real_ptb.valid == real_ptb.eos_id).sum()) == 3_370
    assert int((real_ptb.test == real_ptb.eos_id).sum()) == 3_761


def test_real_ptb_windows(real_ptb):
    w = windows(real_ptb.train, 20)
    assert w.shape == (929_589 // 20, 20)
    assert torch.equal(w[1], real_ptb.train[20:40])
