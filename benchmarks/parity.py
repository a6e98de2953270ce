"""How exactly gpt2lite reproduces the references: logits vs transformers, token ids vs tiktoken.

    python benchmarks/parity.py            # GPT-2 124M shapes with random weights, batch 2 x 256
"""

import argparse
import os
import tempfile
import time

import torch

from gpt2lite import GPT, BPETokenizer, GPTConfig
from gpt2lite.data import tiny_shakespeare
from gpt2lite.pretrained import config_to_hf


def logits_parity(preset: str, batch: int, length: int) -> None:
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config.from_dict(config_to_hf(GPTConfig.from_name(preset)))  # built from a config: nothing is downloaded
    hf = transformers.GPT2LMHeadModel(config).eval()
    with tempfile.TemporaryDirectory() as d:
        hf.save_pretrained(d)
        ours = GPT.from_pretrained(d)
    idx = torch.randint(0, config.vocab_size, (batch, length), generator=torch.Generator().manual_seed(0))
    for dtype in (torch.float32, torch.float64):
        hf.to(dtype)
        ours.to(dtype)
        with torch.no_grad():
            diff = (hf(idx).logits - ours(idx)).abs().max().item()
        print(f"  logits max |diff| vs transformers ({str(dtype)[6:]}): {diff:.3g}")
    hf.float()
    ours.float()
    prompt = idx[:1, :16]
    same = torch.equal(hf.generate(prompt, max_new_tokens=64, do_sample=False, eos_token_id=None, pad_token_id=0),
                       ours.generate(prompt, 64, temperature=0))
    print(f"  greedy generation, 64 tokens: identical = {same}")


def tokenizer_parity() -> None:
    import tiktoken

    text = tiny_shakespeare()
    ref = tiktoken.get_encoding("gpt2")
    start = time.perf_counter()
    ours = BPETokenizer.from_tiktoken("gpt2")
    built = time.perf_counter() - start
    start = time.perf_counter()
    ids = ours.encode(text)
    took = time.perf_counter() - start
    same = ids == ref.encode_ordinary(text)
    print(f"  Tiny Shakespeare: {len(text):,} characters -> {len(ids):,} tokens, identical to tiktoken = {same} "
          f"(built in {built:.2f} s, encoded in {took:.2f} s)")
    assert same and ours.decode(ids) == text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gpt2")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--length", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"{args.preset} shapes, random weights, batch {args.batch} x {args.length}:")
    logits_parity(args.preset, args.batch, args.length)
    print("tokenizer:")
    tokenizer_parity()


if __name__ == "__main__":
    main()
