"""Data pipeline: Tiny Shakespeare on disk, the character tokenizer, splits and batches."""

import hashlib
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from local_web import SHARED, LocalWeb, internet_files

from gpt2lite import data
from gpt2lite.data import (
    CharTokenizer,
    DownloadError,
    download,
    get_batch,
    load_shakespeare,
    tiny_shakespeare,
    train_val_split,
)


@pytest.fixture
def no_network(monkeypatch):
    """Make every download fail as it would on an offline machine; tests never reach the network."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


# ------------------------------------------------------------------------------ Tiny Shakespeare
def test_tiny_shakespeare_is_found_through_the_env_var_and_checked(no_network):
    text = tiny_shakespeare()  # conftest points GPT2LITE_DATA_DIR at ../shared/data
    assert len(text) == 1_115_394
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == data.TINY_SHAKESPEARE_SHA256


def test_a_corrupted_local_copy_is_an_error_not_used(tmp_path, no_network):
    (tmp_path / data.TINY_SHAKESPEARE_FILENAME).write_text("To be, or not to be\n")
    with pytest.raises(ValueError, match="is not Tiny Shakespeare.*checksum.*Delete it"):
        tiny_shakespeare(tmp_path)


def test_a_missing_file_offline_says_how_to_point_at_a_local_copy(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(DownloadError, match="could not download") as info:
        tiny_shakespeare()
    assert "GPT2LITE_DATA_DIR" in str(info.value) and "data_dir" in str(info.value)
    assert list((tmp_path / "empty").iterdir()) == []  # no half-written file left behind


def test_the_cache_folder_is_used_when_nothing_else_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.default_data_dir() == tmp_path / "gpt2lite"


# ------------------------------------------------------------------------------------- download
def test_download_verifies_the_checksum_and_renames_atomically(tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(b"hello, world\n")
    good = hashlib.sha256(b"hello, world\n").hexdigest()
    dest = tmp_path / "out" / "file.txt"

    assert download(source.as_uri(), dest, good) == dest
    assert dest.read_bytes() == b"hello, world\n"

    wrong = "0" * 64
    dest2 = tmp_path / "out" / "other.txt"
    with pytest.raises(DownloadError, match="checksum"):
        download(source.as_uri(), dest2, wrong)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.txt"]  # no temp file, no unverified file


def test_download_replaces_an_existing_file_with_a_wrong_checksum(tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(b"the right bytes")
    dest = tmp_path / "file.txt"
    dest.write_bytes(b"the wrong bytes")
    with pytest.warns(UserWarning, match="downloading it again"):
        download(source.as_uri(), dest, hashlib.sha256(b"the right bytes").hexdigest())
    assert dest.read_bytes() == b"the right bytes"


def test_download_of_a_bad_existing_file_offline_is_a_clear_error(tmp_path, no_network):
    dest = tmp_path / "file.txt"
    dest.write_bytes(b"the wrong bytes")
    with pytest.warns(UserWarning), pytest.raises(DownloadError, match=f"copy the file to {dest}"):
        download("https://example.invalid/file.txt", dest, "0" * 64)


def test_download_skips_a_file_that_is_already_right(tmp_path, no_network):
    dest = tmp_path / "file.txt"
    dest.write_bytes(b"cached")
    assert download("https://example.invalid/file.txt", dest, hashlib.sha256(b"cached").hexdigest()) == dest


# ------------------------------------------------------------------------------------ tokenizer
def test_char_tokenizer_round_trip_and_sorted_vocabulary():
    text = "hello world!"
    tok = CharTokenizer(text)
    assert tok.chars == sorted(set(text)) and tok.vocab_size == 9
    ids = tok.encode("hold!")
    assert ids == [tok.stoi[c] for c in "hold!"]
    assert tok.decode(ids) == "hold!"
    assert tok.decode(torch.tensor(ids)) == "hold!"


def test_char_tokenizer_rejects_unknown_characters_and_ids():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A, at position 2\) is not in this tokenizer's vocabulary"):
        tok.encode("abz")
    with pytest.raises(ValueError, match="outside this tokenizer's vocabulary"):
        tok.decode([0, 3])


def test_shakespeare_char_level_has_65_characters():
    train_ids, val_ids, tok = load_shakespeare("char")
    assert tok.vocab_size == 65
    assert train_ids.dtype == val_ids.dtype == torch.long
    assert len(train_ids) + len(val_ids) == 1_115_394
    assert tok.decode(train_ids[:14]) == "First Citizen:"


def test_shakespeare_bpe_level_uses_gpt2_tokens():
    train_ids, val_ids, tok = load_shakespeare("bpe")
    assert tok.vocab_size == 50257
    assert len(train_ids) + len(val_ids) == 338_025  # GPT-2's tokenizer: about 3.3 characters per token
    assert tok.decode(train_ids[:4].tolist()) == "First Citizen:\n"


def test_load_shakespeare_rejects_an_unknown_level():
    with pytest.raises(ValueError, match=r"level must be one of \('char', 'bpe'\), got 'word'"):
        load_shakespeare("word")


# ---------------------------------------------------------------------------------------- batches
def test_split_is_first_90_percent_then_last_10():
    ids = torch.arange(1000)
    train, val = train_val_split(ids)
    assert len(train) == 900 and len(val) == 100
    assert torch.equal(torch.cat([train, val]), ids)
    train, val = train_val_split(ids, val_fraction=0.25)
    assert len(train) == 750 and val[0] == 750
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(ids, val_fraction=1.0)


def test_get_batch_targets_are_inputs_shifted_by_one():
    ids = torch.arange(100)
    x, y = get_batch(ids, batch_size=8, block_size=10, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10)
    assert torch.equal(y, x + 1)  # with ids == positions, "the next token" is "plus one"
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert int(x.min()) >= 0 and int(y.max()) <= 99  # windows stay inside the data


def test_get_batch_can_reach_the_last_token():
    ids = torch.arange(11)
    x, y = get_batch(ids, batch_size=4, block_size=10)  # exactly one window fits
    assert torch.equal(x, torch.arange(10).expand(4, 10)) and torch.equal(y[:, -1], torch.full((4,), 10))


def test_get_batch_is_reproducible_with_a_seeded_generator():
    ids = torch.arange(10_000)
    a = get_batch(ids, 4, 16, generator=torch.Generator().manual_seed(42))
    b = get_batch(ids, 4, 16, generator=torch.Generator().manual_seed(42))
    c = get_batch(ids, 4, 16, generator=torch.Generator().manual_seed(43))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_get_batch_needs_block_size_plus_one_tokens():
    with pytest.raises(ValueError, match="has 10 tokens.*needs 11"):
        get_batch(torch.arange(10), batch_size=2, block_size=10)
    with pytest.raises(ValueError, match="1-D tensor"):
        get_batch(torch.arange(100).view(10, 10), batch_size=2, block_size=4)


# ------------------------------------------------------------------------- GPT-2's vocabulary files
@pytest.fixture
def fresh_caches(tmp_path, monkeypatch):
    """No vocabulary folder given and empty caches (ours and tiktoken's), as on a new machine."""
    monkeypatch.delenv(data.GPT2_VOCAB_DIR_ENV, raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path


def test_mirrored_keeps_the_path_and_changes_only_the_host(monkeypatch):
    url = data.GPT2_VOCAB_URL + "vocab.bpe"
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    assert data.mirrored(url) == url
    monkeypatch.setenv(data.MIRROR_ENV, "http://127.0.0.1:8765/")
    assert data.mirrored(url) == "http://127.0.0.1:8765/gpt-2/encodings/main/vocab.bpe"


def test_gpt2_vocab_files_are_downloaded_once_checked_and_cached(fresh_caches, monkeypatch):
    with LocalWeb(internet_files()) as web:
        monkeypatch.setenv(data.MIRROR_ENV, web.url)
        encoder_json, vocab_bpe = data.gpt2_vocab_files()
        assert (encoder_json, vocab_bpe) == (fresh_caches / "cache" / "gpt2_vocab" / "encoder.json",
                                             fresh_caches / "cache" / "gpt2_vocab" / "vocab.bpe")
        assert data.sha256_of(vocab_bpe) == data.GPT2_VOCAB_SHA256["vocab.bpe"]
        assert web.requests == [("GET", "/gpt-2/encodings/main/encoder.json"), ("GET", "/gpt-2/encodings/main/vocab.bpe")]
        assert data.gpt2_vocab_files() == (encoder_json, vocab_bpe)
        assert len(web.requests) == 2  # the second call reads the cache
        vocab_bpe.write_text("#version: 0.2\nnot the merges\n")  # a damaged cached copy is downloaded again
        with pytest.warns(UserWarning, match="downloading it again"):
            data.gpt2_vocab_files()
        assert web.count("/gpt-2/encodings/main/vocab.bpe") == 2
        assert data.sha256_of(vocab_bpe) == data.GPT2_VOCAB_SHA256["vocab.bpe"]


def test_gpt2_vocab_files_come_from_tiktokens_cache_when_it_has_them(fresh_caches, monkeypatch, no_network):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken_cache"))
    encoder_json, vocab_bpe = data.gpt2_vocab_files()
    assert encoder_json.parent == vocab_bpe.parent == SHARED / "tiktoken_cache"
    assert data.sha256_of(encoder_json) == data.GPT2_VOCAB_SHA256["encoder.json"]


def test_gpt2_vocab_files_offline_say_how_to_work_offline(fresh_caches, no_network):
    with pytest.raises(DownloadError, match="could not download") as info:
        data.gpt2_vocab_files()
    assert data.GPT2_VOCAB_DIR_ENV in str(info.value)


def test_a_wrong_gpt2_vocab_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.GPT2_VOCAB_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="GPT2LITE_GPT2_VOCAB_DIR.*holds no encoder.json"):
        data.gpt2_vocab_files()
    (tmp_path / "encoder.json").write_text("{}")
    with pytest.raises(ValueError, match="is not GPT-2's encoder.json"):
        data.gpt2_vocab_files()


def test_tiny_shakespeare_downloads_through_the_mirror(fresh_caches, monkeypatch):
    with LocalWeb(internet_files()) as web:
        monkeypatch.setenv(data.MIRROR_ENV, web.url)
        assert len(tiny_shakespeare()) == 1_115_394
        assert web.requests == [("GET", "/karpathy/char-rnn/master/data/tinyshakespeare/input.txt")]
        assert (fresh_caches / "cache" / data.TINY_SHAKESPEARE_FILENAME).is_file()


# ---------------------------------------------------------------------------------------- bad input
# A wrong type is a TypeError, a wrong value a ValueError; numpy numbers work as Python numbers do.
@pytest.mark.parametrize("call, error, message", [
    (lambda: CharTokenizer(["a", "b"]), TypeError, "learns its characters from a str, got list"),
    (lambda: CharTokenizer(""), ValueError, "non-empty text"),
    (lambda: CharTokenizer("abc").encode(b"ab"), TypeError, "encode expects a str, got bytes"),
    (lambda: CharTokenizer("abc").decode([1.0]), TypeError, "a token id must be an integer, got float 1.0"),
    (lambda: CharTokenizer("abc").decode([True]), TypeError, "a token id must be an integer, got bool True"),
    (lambda: CharTokenizer("abc").decode(["a"]), TypeError, "a token id must be an integer, got str 'a'"),
    (lambda: CharTokenizer("abc").decode(5), TypeError, r"decode expects a sequence of token ids.*got int"),
    (lambda: CharTokenizer("abc").decode([-1]), ValueError, r"token id -1 is outside.*\[0, 3\)"),
    (lambda: CharTokenizer("abc").decode(torch.tensor([[0, 1]])), ValueError, "not a batch"),
    (lambda: train_val_split(torch.arange(10), "0.1"), TypeError, "val_fraction must be a number, got str '0.1'"),
    (lambda: train_val_split(torch.arange(10), 0.0), ValueError, r"val_fraction must be between 0 and 1.*got 0\.0"),
    (lambda: train_val_split(torch.arange(10), float("nan")), ValueError, "val_fraction must be between 0 and 1"),
    (lambda: load_shakespeare("bpe", val_fraction=2), ValueError, "val_fraction must be between 0 and 1"),
    (lambda: load_shakespeare(None), TypeError, r"level must be one of \('char', 'bpe'\), got NoneType None"),
    (lambda: get_batch(torch.arange(20), 2.0, 4), TypeError, "batch_size must be an integer, got float 2.0"),
    (lambda: get_batch(torch.arange(20), 2, "4"), TypeError, "block_size must be an integer, got str '4'"),
    (lambda: get_batch(torch.arange(20), 0, 4), ValueError, "batch_size must be an integer >= 1, got 0"),
    (lambda: get_batch(torch.arange(20), 2, -1), ValueError, "block_size must be an integer >= 1, got -1"),
    (lambda: get_batch(list(range(20)), 2, 4), TypeError, r"data must be a 1-D tensor of token ids.*got list"),
    (lambda: get_batch(torch.rand(20), 2, 4), TypeError, r"integer token ids.*got dtype torch\.float32"),
])
def test_bad_arguments_give_type_or_value_errors(call, error, message, no_network):
    with pytest.raises(error, match=message):
        call()


def test_numpy_numbers_work_as_python_numbers():
    tok = CharTokenizer("abc")
    assert tok.decode([np.int64(2), np.int32(0)]) == tok.decode([2, 0]) == "ca"
    assert tok.decode(np.array([1, 2])) == tok.decode(list(torch.tensor([1, 2]))) == "bc"  # 0-d tensors too
    ids = torch.arange(100)
    assert all(torch.equal(a, b) for a, b in zip(train_val_split(ids, np.float64(0.25)), train_val_split(ids, 0.25)))
    seeded = [get_batch(ids, b, t, torch.Generator().manual_seed(0))
              for b, t in ((np.int64(3), np.int32(5)), (3, 5))]
    assert torch.equal(seeded[0][0], seeded[1][0]) and torch.equal(seeded[0][1], seeded[1][1])
