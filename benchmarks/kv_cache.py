"""Generation speed with and without the KV cache (random weights; speed does not depend on them).

    python benchmarks/kv_cache.py                      # GPT-2 124M, batch 1, 256 new tokens
    python benchmarks/kv_cache.py --model tiny --new 64
"""

import argparse
import platform
import time

import torch

from gpt2lite import GPT, GPTConfig

MODELS = {
    "gpt2": GPTConfig.from_name("gpt2"),
    "tiny": GPTConfig(n_layer=4, n_head=4, n_embd=256),
}


def tokens_per_second(model: GPT, prompt: torch.Tensor, new: int, use_cache: bool) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = model.generate(prompt, new, temperature=0, use_cache=use_cache)
    return new * prompt.size(0) / (time.perf_counter() - start), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="gpt2")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt", type=int, default=16, help="prompt length in tokens")
    parser.add_argument("--new", type=int, default=256, help="tokens to generate")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each mode (the median is reported)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = GPT(MODELS[args.model]).eval()
    prompt = torch.randint(0, model.config.vocab_size, (args.batch, args.prompt))
    print(f"{args.model}: {model.num_parameters():,} parameters, batch {args.batch}, prompt {args.prompt}, "
          f"{args.new} new tokens; torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    tokens_per_second(model, prompt, 8, True)  # warm-up
    results = {}
    for use_cache in (True, False):
        runs = [tokens_per_second(model, prompt, args.new, use_cache) for _ in range(args.repeats)]
        results[use_cache] = sorted(r for r, _ in runs)[len(runs) // 2]
        print(f"  {'KV cache' if use_cache else 'no cache'}: {results[use_cache]:8.1f} tokens/s (median of {args.repeats})")
        outputs = [out for _, out in runs]
    same = torch.equal(model.generate(prompt, args.new, temperature=0, use_cache=True), outputs[0])
    print(f"  speed-up: {results[True] / results[False]:.1f}x; greedy outputs identical: {same}")


if __name__ == "__main__":
    main()
