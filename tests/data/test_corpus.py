"""seqadv.data.corpus: one sentence per line, every problem an error or a counted decision."""

from __future__ import annotations

import re

import pytest
import torch

from seqadv.data.corpus import Corpus, read_lines
from seqadv.data.vocab import Vocab
from seqadv.errors import DataError


def write(tmp_path, data: bytes | str, name: str = "c.txt"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# -- empty and missing files ----------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"\n\n", b"  \n\t\n", b"\r\n"])
def test_empty_files_are_errors(tmp_path, content):
    path = write(tmp_path, content)
    with pytest.raises(DataError, match=re.escape(f"{path}: the file is empty")):
        Corpus.from_file(path, tokenizer="space")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'no.txt'}: file not found")):
        Corpus.from_file(tmp_path / "no.txt")
    with pytest.raises(DataError, match="is a directory"):
        Corpus.from_file(tmp_path)


def test_line_with_no_tokens_after_tokenizing_is_counted_as_empty(tmp_path):
    path = write(tmp_path, "a b\n\ufeff\nc\n")
    corpus = Corpus.from_file(path, tokenizer="space")
    assert corpus.sentences == [["a", "b"], ["c"]]
    assert corpus.stats.empty_lines == 1


def test_only_untokenizable_lines(tmp_path):
    path = write(tmp_path, "x\n", "x.txt")
    with pytest.raises(DataError, match="no usable sentences"):
        Corpus.from_file(path, tokenizer=lambda text: [])


# -- empty lines, statistics ----------------------------------------------------------------------
def test_empty_lines_are_skipped_and_counted(tmp_path):
    path = write(tmp_path, "\ufeffThe cat sat\n\n  \nA dog\r\n\nthe end\n")
    corpus = Corpus.from_file(path, tokenizer="space", max_len=8)
    assert corpus.sentences == [["The", "cat", "sat"], ["A", "dog"], ["the", "end"]]
    s = corpus.stats
    assert (s.lines, s.sentences, s.empty_lines) == (6, 3, 3)
    assert (s.tokens, s.max_tokens, s.mean_tokens) == (7, 3, 7 / 3)
    assert s.undecodable_lines == 0 and s.long_lines == 0
    assert "3 sentences from 6 lines" in s.summary() and "3 empty lines skipped" in s.summary()


def test_read_lines_keeps_line_numbers(tmp_path):
    path = write(tmp_path, "a\n\nb\r\nc\rd\n")
    assert read_lines(path) == [(1, "a"), (3, "b"), (4, "c"), (5, "d")]


def test_bad_policy_names_are_errors(tmp_path):
    path = write(tmp_path, "a\n")
    with pytest.raises(DataError, match="long_lines must be one of"):
        Corpus.from_file(path, long_lines="wrap")
    with pytest.raises(DataError, match="encoding_errors must be one of"):
        Corpus.from_file(path, encoding_errors="ignore")
    with pytest.raises(DataError, match="max_len must be >= 2"):
        Corpus.from_file(path, max_len=1)


# -- undecodable bytes ----------------------------------------------------------------------------
BAD_UTF8 = b"good line\nbad \xff\xfe line\nfine again\n\xc3\n"


def test_undecodable_bytes_strict_names_file_and_line(tmp_path):
    path = write(tmp_path, BAD_UTF8)
    with pytest.raises(DataError) as info:
        Corpus.from_file(path, tokenizer="space")
    msg = str(info.value)
    assert msg.startswith(f"{path}:2: not valid UTF-8 at byte 4"), msg
    assert "encoding_errors" in msg


def test_undecodable_bytes_replace_counts(tmp_path):
    corpus = Corpus.from_file(
        write(tmp_path, BAD_UTF8), tokenizer="space", encoding_errors="replace"
    )
    assert corpus.stats.undecodable_lines == 2
    assert corpus.stats.first_problem_lines["undecodable"] == 2
    assert len(corpus) == 4
    assert corpus.sentences[1] == ["bad", "\ufffd\ufffd", "line"]
    assert corpus.sentences[3] == ["\ufffd"]
    assert "2 lines with undecodable bytes" in corpus.stats.summary()


def test_undecodable_bytes_skip_counts(tmp_path):
    corpus = Corpus.from_file(write(tmp_path, BAD_UTF8), tokenizer="space", encoding_errors="skip")
    assert corpus.sentences == [["good", "line"], ["fine", "again"]]
    assert corpus.stats.undecodable_lines == 2 and corpus.stats.lines == 4


def test_file_of_only_undecodable_lines_skipped(tmp_path):
    path = write(tmp_path, b"\xff\n\xfe\n")
    with pytest.raises(DataError, match="no non-empty lines"):
        Corpus.from_file(path, encoding_errors="skip")


# -- long lines ------------------------------------------------------------------------------------
LONG = "one two three\na b c d e f g\nx y z w\nshort\n"


def test_long_lines_truncate_by_default_and_count(tmp_path):
    corpus = Corpus.from_file(write(tmp_path, LONG), tokenizer="space", max_len=4)
    assert corpus.sentences == [
        ["one", "two", "three"],
        ["a", "b", "c"],
        ["x", "y", "z"],
        ["short"],
    ]
    s = corpus.stats
    assert s.long_lines == 2 and s.first_problem_lines["long"] == 2
    assert s.max_tokens == 3
    assert "2 lines over the length limit truncated" in s.summary()


def test_long_lines_skip_counts(tmp_path):
    corpus = Corpus.from_file(
        write(tmp_path, LONG), tokenizer="space", max_len=4, long_lines="skip"
    )
    assert corpus.sentences == [["one", "two", "three"], ["short"]]
    assert corpus.stats.long_lines == 2
    assert "2 lines over the length limit skipped" in corpus.stats.summary()


def test_long_lines_error_names_file_and_line(tmp_path):
    path = write(tmp_path, LONG)
    with pytest.raises(DataError) as info:
        Corpus.from_file(path, tokenizer="space", max_len=4, long_lines="error")
    assert str(info.value).startswith(f"{path}:2: 7 tokens, more than max_len - 1 = 3")


def test_all_lines_long_and_skipped(tmp_path):
    path = write(tmp_path, "a b c\nd e f\n")
    with pytest.raises(DataError, match="no usable sentences"):
        Corpus.from_file(path, tokenizer="space", max_len=2, long_lines="skip")


# -- tokenizers, vocabulary, tensors ---------------------------------------------------------------
def test_nltk_tokenizer_is_the_default(tmp_path):
    corpus = Corpus.from_file(write(tmp_path, "A Dog, running.\n"))
    assert corpus.sentences == [["a", "dog", ",", "running", "."]]
    assert corpus.tokenizer == "nltk"


def test_callable_tokenizer(tmp_path):
    def upper_words(text):
        return text.upper().split()

    corpus = Corpus.from_file(write(tmp_path, "a b\nc\n"), tokenizer=upper_words)
    assert corpus.sentences == [["A", "B"], ["C"]]
    assert corpus.tokenizer == "upper_words"


def test_to_tensor_words_eos_then_pad(tmp_path):
    corpus = Corpus.from_file(write(tmp_path, "b a\nc\na b a\n"), tokenizer="space", max_len=5)
    v = corpus.vocab
    a, b, c = v.encode(["a", "b", "c"])
    x = corpus.to_tensor()
    assert x.dtype == torch.long and x.shape == (3, 5)
    assert x.tolist() == [
        [b, a, v.eos_id, v.pad_id, v.pad_id],
        [c, v.eos_id, v.pad_id, v.pad_id, v.pad_id],
        [a, b, a, v.eos_id, v.pad_id],
    ]
    assert [corpus.decode(row) for row in x.tolist()] == ["b a", "c", "a b a"]


def test_full_length_sentence_fits_with_eos(tmp_path):
    corpus = Corpus.from_file(write(tmp_path, "a b c d e\n"), tokenizer="space", max_len=4)
    row = corpus.to_tensor()[0].tolist()
    assert row[-1] == corpus.vocab.eos_id and len(row) == 4


def test_char_corpus_decodes_without_spaces(tmp_path):
    corpus = Corpus.from_file(write(tmp_path, "我爱 你\n你好\n"), tokenizer="char", max_len=6)
    assert corpus.sentences == [["我", "爱", "你"], ["你", "好"]]
    assert [corpus.decode(r) for r in corpus.to_tensor().tolist()] == ["我爱你", "你好"]


def test_given_vocabulary_counts_unknown_tokens(tmp_path):
    train = Corpus.from_file(write(tmp_path, "a b\na c\n", "train.txt"), tokenizer="space")
    test = Corpus.from_file(
        write(tmp_path, "a z\ny y b\n", "test.txt"), tokenizer="space", vocab=train.vocab
    )
    assert test.vocab is train.vocab
    assert test.stats.unk_tokens == 3
    assert "3 tokens mapped to <unk>" in test.stats.summary()
    unk = train.vocab.unk_id
    assert test.to_tensor()[1, :3].tolist() == [unk, unk, train.vocab.stoi["b"]]


def test_min_freq_and_max_vocab_are_passed_to_the_vocabulary(tmp_path):
    path = write(tmp_path, "a a a b b c\nd\n")
    assert Corpus.from_file(path, tokenizer="space", min_freq=2).vocab.itos[4:] == ["a", "b"]
    assert Corpus.from_file(path, tokenizer="space", max_vocab=5).vocab.itos[4:] == ["a"]
    corpus = Corpus.from_file(path, tokenizer="space", min_freq=3)
    assert corpus.stats.unk_tokens == 4


def test_in_memory_corpus():
    v = Vocab.build([["x", "y"]])
    corpus = Corpus([["x"], ["y", "x"]], v, max_len=3)
    assert len(corpus) == 2
    assert corpus.to_tensor().tolist() == [[4, 2, 0], [5, 4, 2]]


def test_shared_coco_reads_cleanly(shared_data):
    corpus = Corpus.from_file(shared_data / "coco" / "train.txt", tokenizer="space", max_len=32)
    assert len(corpus) == 10_000
    s = corpus.stats
    assert s.undecodable_lines == 0 and s.unk_tokens == 0
    assert 5 < s.mean_tokens < 20 and s.max_tokens <= 31
    x = corpus.to_tensor()
    assert x.shape == (10_000, 32)
    assert bool(((x == corpus.vocab.eos_id).sum(1) == 1).all())


def test_truncated_lines_keep_their_whole_tokens_for_bleu_references(tmp_path):
    from seqadv.data.corpus import Corpus

    path = tmp_path / "c.txt"
    path.write_text("a b c d e f\nshort one\n", encoding="utf-8")
    corpus = Corpus.from_file(path, tokenizer="space", max_len=4)
    assert corpus.sentences == [["a", "b", "c"], ["short", "one"]]
    assert corpus.full_sentences == [["a", "b", "c", "d", "e", "f"], ["short", "one"]]
    assert corpus.stats.long_lines == 1
