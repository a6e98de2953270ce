"""Training data: Tiny Shakespeare, a character-level tokenizer, and random batches of token ids.

The whole pipeline is deliberately small: the text fits in memory, it is tokenized once into a 1-D
tensor of ids, and a batch is just B random windows of T + 1 consecutive ids from that tensor.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .validate import choice, in_range, integer, item, number

if TYPE_CHECKING:
    from .tokenizer import BPETokenizer

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_SHAKESPEARE_FILENAME = "tinyshakespeare.txt"
DATA_DIR_ENV = "GPT2LITE_DATA_DIR"  # a folder that holds (or should receive) the data files

# OpenAI's GPT-2 vocabulary, at the address tiktoken downloads it from (so tiktoken's cache holds the same files).
GPT2_VOCAB_URL = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/"
GPT2_VOCAB_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
GPT2_VOCAB_DIR_ENV = "GPT2LITE_GPT2_VOCAB_DIR"  # a folder that already holds encoder.json and vocab.bpe
# Tests only: serve every download from another host (e.g. http://127.0.0.1:8000). The path of each URL is kept,
# so the real download code (checksums, cache, errors) runs unchanged.
MIRROR_ENV = "GPT2LITE_DOWNLOAD_MIRROR"


class DownloadError(RuntimeError):
    """A file could not be downloaded, or what arrived is not the file we asked for."""


# ---------------------------------------------------------------------------------------- files
def sha256_of(path: str | Path) -> str:
    """The SHA-256 checksum of a file, as a hex string."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | Path, sha256: str) -> Path:
    """Download url to dest unless a copy with the right checksum is already there.

    The bytes go to a temporary file beside dest, which is renamed to dest only once its checksum
    is verified, so an interrupted or corrupted download never looks like a finished one.
    """
    dest = Path(dest)
    url = mirrored(url)
    if dest.exists():
        found = sha256_of(dest)
        if found == sha256:
            return dest
        warnings.warn(f"{dest} has checksum {found}, expected {sha256}; downloading it again", stacklevel=2)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False) as f:
        tmp = Path(f.name)
    try:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as err:  # URLError covers HTTP errors, OSError timeouts
            raise DownloadError(
                f"could not download {url} ({err}). If this machine is offline, copy the file to {dest} by hand."
            ) from err
        found = sha256_of(tmp)
        if found != sha256:
            raise DownloadError(
                f"{url} has checksum {found}, expected {sha256}: the download was corrupted or the file "
                f"at that address changed. Try again, or put a correct copy at {dest} by hand."
            )
        os.replace(tmp, dest)  # atomic: dest is either the old file or the complete new one
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def mirrored(url: str) -> str:
    """url, or the same path on the host that $GPT2LITE_DOWNLOAD_MIRROR names (a test server)."""
    base = os.environ.get(MIRROR_ENV)
    if not base:
        return url
    return base.rstrip("/") + urllib.parse.urlsplit(url).path


def default_data_dir() -> Path:
    """Where data files live: $GPT2LITE_DATA_DIR if set, else a per-user cache folder."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "gpt2lite"


def tiny_shakespeare(data_dir: str | Path | None = None) -> str:
    """The Tiny Shakespeare text (1,115,394 characters), downloaded once and cached.

    It is looked for in data_dir, else $GPT2LITE_DATA_DIR, else ~/.cache/gpt2lite, and downloaded
    there if missing. A copy that is found is checked too: a wrong file is an error, never used.
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    path = folder / TINY_SHAKESPEARE_FILENAME
    if path.exists():
        found = sha256_of(path)
        if found != TINY_SHAKESPEARE_SHA256:
            raise ValueError(
                f"{path} is not Tiny Shakespeare: its checksum is {found}, expected "
                f"{TINY_SHAKESPEARE_SHA256}. Delete it to download a fresh copy, or replace it with "
                f"a correct one ({TINY_SHAKESPEARE_URL})."
            )
    else:
        try:
            download(TINY_SHAKESPEARE_URL, path, TINY_SHAKESPEARE_SHA256)
        except DownloadError as err:
            raise DownloadError(
                f"{err}\nTo work offline, put {TINY_SHAKESPEARE_FILENAME} in a folder and point "
                f"${DATA_DIR_ENV} (or the data_dir argument) at that folder."
            ) from None  # err's message is in ours; one traceback is enough
    return path.read_text(encoding="utf-8")


def _tiktoken_cached(url: str) -> Path:
    """Where tiktoken caches the download of url (the file may not exist)."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    folder = folder or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return Path(folder) / hashlib.sha1(url.encode()).hexdigest()


def gpt2_vocab_files(data_dir: str | Path | None = None) -> tuple[Path, Path]:
    """OpenAI's GPT-2 vocabulary as local files: (encoder.json, vocab.bpe), each checked against its sha256.

    Looked for in $GPT2LITE_GPT2_VOCAB_DIR, then in tiktoken's cache (which holds the same files once
    tiktoken.get_encoding("gpt2") has run), then in data_dir / "gpt2_vocab" (default ~/.cache/gpt2lite),
    and downloaded there if missing (2 MB).
    """
    given = os.environ.get(GPT2_VOCAB_DIR_ENV)
    if given:
        folder = Path(given)
    else:
        folder = (Path(data_dir) if data_dir is not None else default_data_dir()) / "gpt2_vocab"
    paths = []
    for name, sha256 in GPT2_VOCAB_SHA256.items():
        path = folder / name
        if given:
            if not path.is_file():
                raise FileNotFoundError(f"${GPT2_VOCAB_DIR_ENV} is {given}, but it holds no {name}")
            if sha256_of(path) != sha256:
                raise ValueError(f"{path} is not GPT-2's {name}: its sha256 is not {sha256}")
        else:
            cached = _tiktoken_cached(GPT2_VOCAB_URL + name)
            if cached.is_file() and sha256_of(cached) == sha256:
                path = cached
            else:
                try:
                    download(GPT2_VOCAB_URL + name, path, sha256)
                except DownloadError as err:
                    raise DownloadError(
                        f"{err}\nTo work offline, put encoder.json and vocab.bpe in a folder and point "
                        f"${GPT2_VOCAB_DIR_ENV} at it."
                    ) from None
        paths.append(path)
    return paths[0], paths[1]


# ------------------------------------------------------------------------------------ tokenizer
class CharTokenizer:
    """The simplest tokenizer: every distinct character of a text is one token.

    Ids are given to the characters in sorted order, so the same text always gives the same
    vocabulary (65 characters for Tiny Shakespeare).
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer learns its characters from a str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to learn its characters from")
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Text -> list of token ids."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as err:
            ch = err.args[0]
            raise ValueError(
                f"character {ch!r} (U+{ord(ch):04X}, at position {text.index(ch)}) is not in this "
                f"tokenizer's vocabulary of {self.vocab_size} characters; build the CharTokenizer from a "
                "text that contains it, or remove it from the input"
            ) from None

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """List (or 1-D tensor or array) of token ids -> text. numpy integers are ids too."""
        if hasattr(ids, "tolist"):  # torch tensors, numpy arrays
            ids = ids.tolist()
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError("decode expects a sequence of token ids (a list or a 1-D tensor), "
                            f"got {type(ids).__name__}")
        ids, size = list(ids), self.vocab_size
        if all(type(i) is int and 0 <= i < size for i in ids):  # the usual case, fast: plain ints in range
            return "".join([self.chars[i] for i in ids])
        pieces = []  # else find the first bad id and say what is wrong with it
        for i in ids:
            if isinstance(i, list):
                raise ValueError("decode takes one sequence of ids, not a batch (a 2-D tensor or a list of lists); "
                                 "decode each row, e.g. tok.decode(out[0])")
            i = integer("a token id", item(i))  # item: a 0-d tensor, as iterating over a tensor gives
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} is outside this tokenizer's vocabulary [0, {self.vocab_size})")
            pieces.append(self.chars[i])
        return "".join(pieces)


# -------------------------------------------------------------------------------------- batches
def train_val_split(data: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a sequence into its first (1 - val_fraction) for training and the rest for validation.

    The split is by position, not at random: neighbouring windows overlap, so a random split
    would leak training text into the validation set.
    """
    n = int(len(data) * (1.0 - _fraction(val_fraction)))
    return data[:n], data[n:]


def _fraction(val_fraction: object) -> float:
    """val_fraction as a float strictly between 0 and 1, or a TypeError / ValueError that says so."""
    val_fraction = number("val_fraction", val_fraction)
    in_range("val_fraction", val_fraction, 0.0 < val_fraction < 1.0, "between 0 and 1 (exclusive)")
    return val_fraction


def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """batch_size random windows of data: inputs x and targets y, y being x shifted left by one.

    y[b, t] is the token that follows x[b, :t + 1], so one window of T + 1 ids gives T training
    examples at once. Pass a seeded generator to make the batches reproducible.
    """
    batch_size = integer("batch_size", batch_size, minimum=1)
    block_size = integer("block_size", block_size, minimum=1)
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"data must be a 1-D tensor of token ids, e.g. torch.tensor(tokenizer.encode(text)), "
                        f"got {type(data).__name__}")
    if data.dim() != 1:
        raise ValueError(f"data must be a 1-D tensor of token ids, e.g. torch.tensor(tokenizer.encode(text)), "
                         f"got shape {tuple(data.shape)}")
    if data.is_floating_point() or data.is_complex() or data.dtype == torch.bool:
        raise TypeError(f"data must hold integer token ids (e.g. torch.long), got dtype {data.dtype}")
    if len(data) < block_size + 1:
        raise ValueError(
            f"data has {len(data)} tokens, but a window of block_size={block_size} needs {block_size + 1} "
            "(the inputs plus one target); use more data or a smaller block_size"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,)
    offsets = starts[:, None] + torch.arange(block_size + 1)  # (B, T + 1)
    windows = data[offsets]  # (B, T + 1)
    x = windows[:, :-1].contiguous()  # (B, T); contiguous, so that x.view(-1) works as users expect
    y = windows[:, 1:].contiguous()  # (B, T)
    return x.to(device), y.to(device)


def load_shakespeare(
    level: str = "char", data_dir: str | Path | None = None, val_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor, CharTokenizer | BPETokenizer]:
    """Tiny Shakespeare as (train_ids, val_ids, tokenizer), ready for ``train``.

    level="char" gives one token per character (vocabulary 65); level="bpe" uses GPT-2's
    tokenizer (vocabulary 50,257), so the ids fit a pretrained GPT-2.
    """
    level = choice("level", level, ("char", "bpe"))  # checked before the download, as is val_fraction
    val_fraction = _fraction(val_fraction)
    text = tiny_shakespeare(data_dir)
    if level == "char":
        tokenizer = CharTokenizer(text)
    else:
        from .tokenizer import BPETokenizer  # imported here: the char level does not need it

        tokenizer = BPETokenizer.from_tiktoken("gpt2")
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)  # (N,)
    train_ids, val_ids = train_val_split(ids, val_fraction)
    return train_ids, val_ids, tokenizer
