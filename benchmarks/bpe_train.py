"""Time BPE training (incremental vs recount) and GPT-2 encoding (ours vs tiktoken) on Tiny Shakespeare.

Usage, offline with the project's shared data:

    TIKTOKEN_CACHE_DIR=../shared/tiktoken_cache GPT2LITE_DATA_DIR=../shared/data \\
        python benchmarks/bpe_train.py --merges 1000

Both training methods must learn the same merges, and our GPT-2 ids must equal tiktoken's: the script asserts both.
"""

import argparse
import os
import time
from pathlib import Path

from gpt2lite.tokenizer import BPETokenizer


def timed(fn, *args, **kwargs):
    """Call fn and return (its result, the seconds it took)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=None, help="train on the first N characters (default: all)")
    parser.add_argument("--merges", type=int, default=1000, help="number of merges to learn (default: 1000)")
    parser.add_argument("--skip-recount", action="store_true", help="time only the incremental method")
    parser.add_argument("--data", type=Path, help="text file (default: $GPT2LITE_DATA_DIR/tinyshakespeare.txt)")
    args = parser.parse_args()

    if args.data is None and "GPT2LITE_DATA_DIR" not in os.environ:
        parser.error("set GPT2LITE_DATA_DIR or pass --data")
    path = args.data or Path(os.environ["GPT2LITE_DATA_DIR"]) / "tinyshakespeare.txt"
    text = path.read_text(encoding="utf-8")
    train_text = text[: args.chars]
    print(f"training on {len(train_text):,} of {len(text):,} characters, {args.merges} merges")

    methods = ["incremental"] if args.skip_recount else ["incremental", "recount"]
    learned = {}
    for method in methods:
        tok = BPETokenizer()
        _, seconds = timed(tok.train, train_text, 256 + args.merges, method=method)
        learned[method] = list(tok.merges.items())
        print(f"  train {method:<12} {seconds:8.2f} s")
    if "recount" in learned:
        assert learned["recount"] == learned["incremental"], "recount and incremental learned different merges"
        print("  both methods learned the same merges")

    import tiktoken

    print(f"encoding all {len(text):,} characters with GPT-2's tokenizer")
    enc = tiktoken.get_encoding("gpt2")
    tok, seconds = timed(BPETokenizer.from_tiktoken, "gpt2")
    print(f"  BPETokenizer.from_tiktoken      {seconds:8.2f} s")
    ids, cold = timed(tok.encode, text)
    _, warm = timed(tok.encode, text)
    reference, tiktoken_seconds = timed(enc.encode_ordinary, text)
    assert ids == reference, "our GPT-2 ids differ from tiktoken's"
    print(f"  ours, empty chunk cache         {cold:8.2f} s  ({len(ids):,} tokens, identical to tiktoken)")
    print(f"  ours, warm chunk cache          {warm:8.2f} s")
    print(f"  tiktoken encode_ordinary        {tiktoken_seconds:8.2f} s")
    _, seconds = timed(tok.decode, ids)
    print(f"  ours, decode                    {seconds:8.2f} s")


if __name__ == "__main__":
    main()
