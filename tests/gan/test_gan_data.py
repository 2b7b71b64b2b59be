"""Sequence data: the text loader (tokens, specials, cut, split, errors) and oracle data."""

from pathlib import Path

import pytest
import torch

from advrl.core.errors import UserError
from advrl.gan import OracleLSTM, oracle_data, text_data

COCO = Path(__file__).parents[2].parent / "shared" / "benchmarks" / "coco_captions"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_text_encoding_with_specials_cut_and_unk(tmp_path):
    train = write(tmp_path / "train.txt", "a cat sat\n\na dog sat\n  a cat ran far away  \nDog\n")
    test = write(tmp_path / "test.txt", "a cow sat\n")
    data = text_data(train, max_len=4, min_count=2, test_path=test)
    # specials, then words seen twice or more, by count then alphabetically
    assert data.vocab == ["<pad>", "<eos>", "<unk>", "a", "cat", "sat"]
    assert (data.pad_id, data.eos_id, data.unk_id, data.start_id) == (0, 1, 2, 1)
    assert data.vocab_size == 6 and data.length == 4
    assert data.train.tolist() == [
        [3, 4, 5, 1],  # a cat sat <eos>
        [3, 2, 5, 1],  # a <unk> sat <eos>: "dog" is seen once ("Dog" is another word)
        [3, 4, 2, 2],  # cut to 4 words, no <eos>
        [2, 1, 0, 0],  # Dog <eos> <pad> <pad>
    ]
    assert data.test.tolist() == [[3, 2, 5, 1]]
    assert data.test_tokens == [["a", "cow", "sat"]]  # raw words: the BLEU references
    assert data.references() == [["a", "cow", "sat"]]
    assert data.decode(data.train[0]) == "a cat sat"
    assert data.decode([3, 1, 4, 4]) == "a"  # stops at <eos>
    assert data.tokens(data.train[3:]) == [["<unk>"]]
    assert data.encode("a cat").tolist() == [3, 4, 1, 0]
    assert data.stats["train_cut"] == 0.25 and data.stats["n_train"] == 4


def test_lowercase_option(tmp_path):
    path = write(tmp_path / "t.txt", "Dog dog\nDOG\n")
    data = text_data(path, max_len=3, min_count=1, test_path=path, lowercase=True)
    assert data.vocab == ["<pad>", "<eos>", "<unk>", "dog"]


def test_held_out_split_is_seeded_disjoint_and_builds_vocab_from_train(tmp_path):
    lines = [f"w{i} common" for i in range(20)]
    path = write(tmp_path / "t.txt", "\n".join(lines) + "\n")
    data = text_data(path, max_len=3, min_count=1, test_fraction=0.25, seed=1)
    assert len(data.train) == 15 and len(data.test) == 5
    train_words = {data.vocab[i] for i in data.train[:, 0].tolist()}
    test_words = {w for words in data.test_tokens for w in words} - {"common"}
    assert not train_words & test_words  # no sentence is in both
    assert (data.test[:, 0] == data.unk_id).all()  # test-only words are unknown
    again = text_data(path, max_len=3, min_count=1, test_fraction=0.25, seed=1)
    assert again.test_tokens == data.test_tokens and torch.equal(again.train, data.train)
    other = text_data(path, max_len=3, min_count=1, test_fraction=0.25, seed=2)
    assert other.test_tokens != data.test_tokens


def test_automatic_length_covers_95_percent_with_eos(tmp_path):
    path = write(tmp_path / "t.txt", "\n".join("x " * n for n in [3] * 19 + [9]))
    data = text_data(path, min_count=1, test_path=path)
    assert data.length == 4  # 19 of 20 sentences have 3 words, + <eos>; the long one is cut


def test_file_errors_name_the_problem(tmp_path):
    with pytest.raises(UserError, match="not found"):
        text_data(tmp_path / "missing.txt")
    with pytest.raises(UserError, match="is a directory"):
        text_data(tmp_path)
    with pytest.raises(UserError, match="empty"):
        text_data(write(tmp_path / "blank.txt", "\n   \n\t\n"))
    (tmp_path / "latin1.txt").write_bytes("ok\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"not UTF-8 \(undecodable byte 0xe9 on line 2\)"):
        text_data(tmp_path / "latin1.txt")
    with pytest.raises(UserError, match="at least 2"):
        text_data(write(tmp_path / "one.txt", "only one sentence\n"))


def test_a_byte_order_mark_is_not_a_word(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffhello world\n".encode())
    data = text_data(tmp_path / "bom.txt", max_len=3, min_count=1, test_path=tmp_path / "bom.txt")
    assert data.vocab[3:] == ["hello", "world"]


def test_oracle_data_shapes_and_determinism():
    oracle = OracleLSTM.random(vocab=50, emb=4, hidden=4, seed=0)
    data = oracle_data(oracle, n_train=30, n_test=10, length=6, seed=3)
    assert data.train.shape == (30, 6) and data.test.shape == (10, 6)
    assert data.train.dtype == torch.long and data.vocab_size == 50 and data.start_id == 0
    assert data.vocab is None and data.decode(data.train[0]).count(" ") == 5
    same = oracle_data(oracle, n_train=30, n_test=10, length=6, seed=3)
    assert torch.equal(same.train, data.train) and torch.equal(same.test, data.test)
    assert not torch.equal(oracle_data(oracle, 30, 10, 6, seed=4).train, data.train)
    assert data.references() == data.test.tolist()


@pytest.mark.skipif(not COCO.is_dir(), reason=f"the COCO captions are not at {COCO}")
def test_coco_defaults():
    data = text_data(COCO / "train.txt", test_path=COCO / "test.txt")
    assert data.length == 16  # 95% of captions fit with their <eos>
    assert data.vocab_size == 3154  # words seen at least twice, plus 3 specials
    assert data.train.shape == (10_000, 16) and data.test.shape == (10_000, 16)
    assert data.stats["train_cut"] < 0.05 and data.stats["train_unk"] < 0.03
