"""gpt2lite against Hugging Face's GPT2LMHeadModel: the same weights, the same harness, side by side.

    python benchmarks/suite.py                 # the full suite on the CPU (about 15 minutes on 2 threads)
    python benchmarks/suite.py --quick         # small sizes, a smoke run for CI (under 2 minutes)
    python benchmarks/suite.py --device cuda   # on a GPU: bf16 autocast, flash attention, fused AdamW
    python benchmarks/suite.py --only forward,generate-124m
    python benchmarks/suite.py --peers         # against CTranslate2, ONNX Runtime, llama.cpp (benchmarks/peers.py)
    python benchmarks/suite.py --peers --alone # gpt2lite's rows of --peers, in a process without the peers

Both models compute the same function: transformers' model is loaded from a checkpoint that gpt2lite wrote with
``save_pretrained``. After a warm-up, the two are timed in turns, A B B A A B ..., so that a slow patch of the machine
hits both. The table shows medians with min and max, and the ratio gpt2lite / transformers (above 1: gpt2lite is
faster). The same numbers go to a JSON file, with the machine (CPU, threads, torch and transformers versions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from gpt2lite import GPT, GPTConfig
from gpt2lite.quantize import greedy_agreement, logit_error, quantize
from gpt2lite.training import TrainConfig, configure_optimizer, next_token_loss

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------- harness
@dataclass
class Row:
    """One workload's result: a rate per implementation (higher is better) and what it means."""

    workload: str
    unit: str
    rates: dict[str, dict[str, float]] = field(default_factory=dict)  # impl -> {median, min, max}
    notes: list[str] = field(default_factory=list)
    reference: str = "transformers"  # the column the ratios divide by
    bytes_per_weight: dict[str, float] = field(default_factory=dict)  # impl -> bytes it reads per weight
    greedy_shared: dict[str, int] = field(default_factory=dict)  # impl -> greedy tokens equal to gpt2lite fp32's

    def ratio(self, ours: str = "gpt2lite") -> float | None:
        if ours in self.rates and self.reference in self.rates:
            return self.rates[ours]["median"] / self.rates[self.reference]["median"]
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable[[], object]], work: float, repeats: int, device: torch.device,
                warmup: int = 1, pause: float = 0.0) -> dict[str, dict[str, float]]:
    """Time each function `repeats` times in A B B A order after `warmup` runs each; rates = work / seconds.

    `pause` seconds of sleep before each timed run let the thread pools of the run before go idle (OpenMP's
    threads spin for up to 200 ms after a parallel region): needed when the functions come from different
    runtimes, each with threads of its own, on the same cores."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            time.sleep(pause)
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            seconds[name].append(time.perf_counter() - start)
    return {name: {"median": work / statistics.median(s), "min": work / max(s), "max": work / min(s)}
            for name, s in seconds.items()}


def machine(device: torch.device) -> dict[str, str]:
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "threads": str(torch.get_num_threads()), "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 5) -> float:
    """Measured dense matmul throughput, FLOP/s: the ceiling that model-FLOPs utilisation is measured against."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    for _ in range(2):
        a @ b
    _sync(device)
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        _sync(device)
        best.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(best)


# ---------------------------------------------------------------------------------------------- models
def pair(config: GPTConfig, device: torch.device, dtype: torch.dtype = torch.float32, seed: int = 0):
    """gpt2lite's GPT and transformers' GPT2LMHeadModel with identical random weights, in eval mode."""
    import transformers

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        ours = GPT(config)
    with tempfile.TemporaryDirectory() as tmp:
        ours.save_pretrained(tmp)
        theirs = transformers.GPT2LMHeadModel.from_pretrained(tmp, attn_implementation="sdpa")
    theirs.generation_config.eos_token_id = None  # generate exactly the requested number of tokens
    theirs.generation_config.pad_token_id = 0
    return ours.to(device, dtype).eval(), theirs.to(device, dtype).eval()


def tokens(config: GPTConfig, batch: int, length: int, device: torch.device, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (batch, length), generator=g).to(device)


# ---------------------------------------------------------------------------------------------- workloads
def forward(args, device) -> list[Row]:
    config = GPTConfig.from_name("gpt2") if not args.quick else GPTConfig(n_layer=2, n_head=4, n_embd=256)
    B, T = (4, 256) if not args.quick else (2, 64)
    ours, theirs = pair(config, device)
    idx = tokens(config, B, T, device)
    with torch.inference_mode():
        diff = (ours(idx) - theirs(idx).logits).abs().max().item()
        rates = interleaved({"gpt2lite": lambda: ours(idx), "transformers": lambda: theirs(idx).logits},
                            B * T, args.repeats, device)
    return [Row(f"forward, {_name(config)}, batch {B} x {T}, all logits", "tok/s", rates,
                [f"max |logit difference| {diff:.1e}"])]


def train_step(args, device) -> list[Row]:
    config = GPTConfig(n_layer=4, n_head=4, n_embd=256) if not args.quick else GPTConfig(n_layer=2, n_head=4, n_embd=128)
    B, T = (8, 256) if not args.quick else (2, 64)
    if device.type == "cuda":
        config = GPTConfig.from_name("gpt2") if not args.quick else config
        B, T = (args.gpu_batch, 1024) if not args.quick else (4, 256)
    ours, theirs = pair(config, device)
    x, y = tokens(config, B, T, device, seed=1), tokens(config, B, T, device, seed=2)
    cfg = TrainConfig(learning_rate=1e-4, weight_decay=0.1)
    our_opt = configure_optimizer(ours.train(), cfg)
    their_opt = torch.optim.AdamW(theirs.train().parameters(), lr=1e-4, weight_decay=0.1)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    model_fn = torch.compile(ours) if args.compile else ours

    def ours_step():
        with amp:
            loss = next_token_loss(model_fn, x, y)
        loss.backward()
        our_opt.step()
        our_opt.zero_grad(set_to_none=True)

    def theirs_step():
        with amp:
            logits = theirs(x).logits
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        loss.backward()
        their_opt.step()
        their_opt.zero_grad(set_to_none=True)

    rates = interleaved({"gpt2lite": ours_step, "transformers": theirs_step}, B * T, args.repeats, device)
    # Model FLOPs per token: 6 per weight in a matmul (forward 2, backward 4), plus attention's scores and sums.
    n_matmul = ours.num_parameters() - ours.transformer.wpe.weight.numel()
    flops_per_token = 6 * n_matmul + 12 * config.n_layer * config.n_embd * T
    peak = matmul_peak(device, torch.bfloat16 if device.type == "cuda" else torch.float32,
                       4096 if device.type == "cuda" else 1024)
    notes = [f"measured matmul peak {peak / 1e9:,.0f} GFLOP/s ({'bf16' if device.type == 'cuda' else 'fp32'})"]
    for name, r in rates.items():
        notes.append(f"{name} MFU {r['median'] * flops_per_token / peak:.0%}")
    return [Row(f"train step (fwd+bwd+AdamW), {_name(config)}, vocab {config.vocab_size}, batch {B} x {T}",
                "tok/s", rates, notes)]


def generation(args, device, name: str, config: GPTConfig, batch: int, new: int, low: bool = False) -> list[Row]:
    """Greedy generation, gpt2lite against transformers; with `low`, also gpt2lite's quantized copies (on the CPU
    fp32, the same weights streamed, bf16 and int8; on a GPU bf16) and the memory bandwidth each reaches against a
    plain streaming read of the same machine."""
    ours, theirs = pair(config, device)
    prompt = tokens(config, batch, 16, device)

    def run_ours(model=ours):
        return model.generate(prompt, new, temperature=0)

    def run_theirs():
        return theirs.generate(prompt, max_new_tokens=new, do_sample=False)

    fns = {"gpt2lite": run_ours, "transformers": run_theirs}
    kinds = [k for k in (("fp32", "bf16", "int8") if low else ()) if k == "bf16" or device.type == "cpu"]
    lows = {kind: quantize(ours, kind) for kind in kinds}
    with torch.inference_mode():
        same = torch.equal(run_ours(), run_theirs())
        notes = [f"greedy tokens identical to transformers: {same}"]
        for kind, model in lows.items():
            fns[f"gpt2lite {kind}"] = lambda model=model: run_ours(model)
            shared = greedy_agreement(ours, model, prompt[:1], new)
            error = logit_error(ours, model, prompt)
            notes.append(f"{kind}: greedy tokens equal to fp32 for the first {shared} of {new}, max logit error "
                         f"{error:.2%} of the range (random weights)")
        rates = interleaved(fns, batch * new, args.repeats, device)
    if low and device.type == "cpu" and batch == 1:
        weight_bytes = {"gpt2lite": 4, "transformers": 4, "gpt2lite fp32": 4, "gpt2lite bf16": 2,
                        "gpt2lite int8": 1}
        n = ours.num_parameters()
        read = streaming_read_gbs()
        notes.append(f"plain streaming read {read:.1f} GB/s; weights read per token at the median rate: "
                     + ", ".join(f"{impl} {n * weight_bytes[impl] * r['median'] / 1e9:.1f} GB/s"
                                 for impl, r in rates.items()))
    return [Row(f"greedy generation, {name}, batch {batch}, 16-token prompt, {new} new", "tok/s", rates, notes)]


def streaming_read_gbs(megabytes: int = 512, repeats: int = 5) -> float:
    """GB/s of the simplest read there is, a sum over a buffer far larger than the caches: the ceiling for
    generation at batch 1, which reads every weight once per token."""
    buffer = torch.ones(megabytes * 2**20 // 4)
    buffer.sum()
    best = min(_seconds(buffer.sum) for _ in range(repeats))
    return buffer.numel() * 4 / best / 1e9


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def generate_tiny(args, device) -> list[Row]:
    return generation(args, device, "4 x 256", GPTConfig(n_layer=4, n_head=4, n_embd=256), 1, 256 if not args.quick else 32)


def generate_124m(args, device) -> list[Row]:
    if args.quick:
        return generation(args, device, "2 x 256", GPTConfig(n_layer=2, n_head=4, n_embd=256), 1, 16, low=True)
    rows = generation(args, device, "124M", GPTConfig.from_name("gpt2"), 1, 256, low=True)
    return rows + generation(args, device, "124M", GPTConfig.from_name("gpt2"), 8, 128)


def per_token(args, device) -> list[Row]:
    """Time per generated token early and late in a long generation: does it grow with the context?"""
    config = GPTConfig.from_name("gpt2") if not args.quick else GPTConfig(n_layer=2, n_head=4, n_embd=256)
    total = 1000 if not args.quick else 200
    ours, theirs = pair(config, device)
    prompt = tokens(config, 1, 8, device)
    new = total - prompt.size(1)
    stamps: dict[str, list[float]] = {}

    import transformers

    class Clock(transformers.StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            _sync(device)
            stamps["transformers"].append(time.perf_counter())
            return torch.zeros(input_ids.size(0), dtype=torch.bool, device=input_ids.device)

    with torch.inference_mode():
        stamps["gpt2lite"] = []
        for _ in ours.stream(prompt, new, temperature=0):
            _sync(device)
            stamps["gpt2lite"].append(time.perf_counter())
        stamps["transformers"] = []
        theirs.generate(prompt, max_new_tokens=new, do_sample=False,
                        stopping_criteria=transformers.StoppingCriteriaList([Clock()]))
    rates, notes = {}, []
    for name, s in stamps.items():
        steps = [b - a for a, b in zip(s, s[1:])]  # per-token times after the first (the prompt) step
        early, late = statistics.median(steps[:32]), statistics.median(steps[-32:])
        rates[name] = {"median": early / late, "min": early / late, "max": early / late}
        notes.append(f"{name}: {early * 1e3:.1f} ms/token at the start, {late * 1e3:.1f} ms near {total} tokens "
                     f"({late / early - 1:+.0%})")
    return [Row(f"time per token, first 32 vs last 32 steps of {total}, {_name(config)}",
                "early/late speed", rates, notes)]


_MEMORY_PROBE = """
import sys, torch
sys.path.insert(0, {root!r})
from benchmarks.suite import pair, tokens
from gpt2lite import GPTConfig
config = GPTConfig.from_name("gpt2") if {full} else GPTConfig(n_layer=2, n_head=4, n_embd=256)
ours, theirs = pair(config, torch.device("cpu"))
model = ours if {which!r} == "gpt2lite" else theirs
idx = tokens(config, 1, {T}, torch.device("cpu"))
def rss(field):
    return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith(field))) * 1024
with torch.inference_mode():
    model(idx)  # warm-up: one-time allocations are not the forward's
    base = rss("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
    out = model(idx)
    print(rss("VmHWM:") - base)
"""


def peak_memory(args, device) -> list[Row]:
    """Extra memory at the peak of one forward pass (batch 1 x 1024, all logits) beyond the loaded model."""
    T = 1024 if not args.quick else 256
    result = {}
    config = GPTConfig.from_name("gpt2") if not args.quick else GPTConfig(n_layer=2, n_head=4, n_embd=256)
    for which in ("gpt2lite", "transformers"):
        if device.type == "cuda":
            model = pair(config, device)[which == "transformers"]
            idx = tokens(config, 1, T, device)
            with torch.inference_mode():
                model(idx)  # warm-up: one-time allocations are not the forward's
                torch.cuda.synchronize()
                base = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
                model(idx)
                result[which] = torch.cuda.max_memory_allocated() - base
            del model
        else:  # a fresh process per model, so that neither sees the other's freed memory
            code = _MEMORY_PROBE.format(root=str(HERE.parent), full=not args.quick, which=which, T=T)
            # Large blocks straight from (and back to) the OS: RSS then follows the live tensors, not what glibc's
            # heap kept after a free, so the peak is the model's, not the allocator's.
            env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
            result[which] = int(out.stdout.strip().splitlines()[-1])
    # Lower is better for memory: report the inverse so that the ratio keeps "above 1 is better".
    rates = {k: {"median": 2**20 / v, "min": 2**20 / v, "max": 2**20 / v} for k, v in result.items()}
    notes = [f"{k}: {v / 2**20:,.0f} MiB at the peak" for k, v in result.items()]
    return [Row(f"peak memory of a forward, {'124M' if not args.quick else '2 x 256'}, batch 1 x {T}, all logits",
                "1/MiB", rates, notes)]


def tokenizer(args, device) -> list[Row]:
    import tiktoken

    from gpt2lite.data import tiny_shakespeare
    from gpt2lite.tokenizer import BPETokenizer

    text = tiny_shakespeare()
    if args.quick:
        text = text[:100_000]
    ours, theirs = BPETokenizer.from_tiktoken("gpt2"), tiktoken.get_encoding("gpt2")
    same = ours.encode(text) == theirs.encode_ordinary(text)

    def cold():  # our chunk cache starts empty in every timed run: a fair first encode of the text
        ours._cache.clear()
        return ours.encode(text)

    rates = interleaved({"gpt2lite": cold, "tiktoken": lambda: theirs.encode_ordinary(text)}, len(text),
                        args.repeats, device)
    row = Row(f"tokenizer: encode {'Tiny Shakespeare' if not args.quick else '100k characters of it'}", "chars/s",
              rates, [f"identical ids: {same}"])
    row.rates["transformers"] = row.rates.pop("tiktoken")  # the reference column
    row.notes.append("the reference here is tiktoken, not transformers")
    return [row]


def _name(config: GPTConfig) -> str:
    if config.n_layer == 12 and config.n_embd == 768:
        return "124M"
    return f"{config.n_layer} x {config.n_embd}"


def peers(args, device) -> list[Row]:
    """gpt2lite (the model, and its quantize copies fp32, bf16, int8) against CTranslate2, ONNX Runtime and
    llama.cpp on the same random 124M weights: batch 1, a 32-token prompt, greedy tokens, the same threads,
    interleaved rounds (benchmarks/peers.py)."""
    from peers import peer_engines

    if device.type != "cpu":
        raise SystemExit("--peers compares CPU engines: run it with --device cpu")
    config = GPTConfig.from_name("gpt2") if not args.quick else GPTConfig(n_layer=2, n_head=4, n_embd=256)
    n = 128 if not args.quick else 16
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GPT(config).eval()
    prompt = tokens(config, 1, 32, device)[0].tolist()
    vocab_dir = args.vocab_dir or gpt2_vocab_dir()
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        if args.alone:  # the same rows in a process that never loads the peers' libraries
            engines, notes = [], ["gpt2lite alone: no peer loaded in this process"]
        else:
            engines, notes = peer_engines(model, prompt, n, vocab_dir, Path(tmp), torch.get_num_threads(),
                                          args.llama_convert)
        idx = torch.tensor([prompt])
        lows = {kind: quantize(model, kind) for kind in ("fp32", "bf16", "int8")}
        fns = {"gpt2lite": lambda: model.generate(idx, n, temperature=0)}
        fns.update({f"gpt2lite {k}": (lambda m=m: m.generate(idx, n, temperature=0)) for k, m in lows.items()})
        fns.update({e.name: (lambda e=e: e.generate(prompt, n)) for e in engines})
        rates = interleaved(fns, n, args.repeats, device, pause=0.5)
        ours = fns["gpt2lite"]()[0, 32:].tolist()
        shared = {name: _shared(ours, fn()[0, 32:].tolist() if name.startswith("gpt2lite") else fn())
                  for name, fn in fns.items()}
    sizes = {"gpt2lite": 4, "gpt2lite fp32": 4, "gpt2lite bf16": 2, "gpt2lite int8": 1,
             **{e.name: e.weight_bytes for e in engines}}
    weights = model.num_parameters()
    notes.append(f"plain streaming read {streaming_read_gbs():.1f} GB/s; weights read per token at the median rate: "
                 + ", ".join(f"{name} {weights * sizes[name] * r['median'] / 1e9:.1f} GB/s"
                             for name, r in rates.items()))
    reference = "llama.cpp f32" if "llama.cpp f32" in rates else next(iter(rates))
    return [Row(f"greedy generation against other engines, {_name(config)}, batch 1, 32-token prompt, {n} new",
                "tok/s", rates, notes, reference, sizes, shared)]


def _shared(ours: list[int], theirs: list[int]) -> int:
    """How many greedy tokens two runs share before they first differ."""
    return next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))


def gpt2_vocab_dir() -> Path:
    """OpenAI's encoder.json and vocab.bpe: gpt2lite's own cached download (GPT2LITE_GPT2_VOCAB_DIR to point at a
    folder that has them)."""
    from gpt2lite.data import gpt2_vocab_files

    encoder, _ = gpt2_vocab_files()
    return Path(encoder).parent


WORKLOADS = {
    "forward": forward,
    "train": train_step,
    "generate-tiny": generate_tiny,
    "generate-124m": generate_124m,
    "per-token": per_token,
    "memory": peak_memory,
    "tokenizer": tokenizer,
}


def table(rows: list[Row]) -> str:
    lines = ["| workload | unit | gpt2lite (median, min-max) | reference (median, min-max) | ratio |",
             "| --- | --- | ---: | ---: | ---: |"]
    fmt = lambda r: f"{r['median']:,.3g} ({r['min']:,.3g}-{r['max']:,.3g})"  # noqa: E731
    for row in rows:
        ours, theirs = row.rates.get("gpt2lite"), row.rates.get(row.reference)
        ratio = row.ratio()
        lines.append(f"| {row.workload} | {row.unit} | {fmt(ours) if ours else '-'} | "
                     f"{f'{row.reference} {fmt(theirs)}' if theirs else '-'} | {f'{ratio:.2f}x' if ratio else '-'} |")
        for name, rate in row.rates.items():
            if name not in ("gpt2lite", row.reference):
                share = f"{rate['median'] / theirs['median']:.2f}x" if theirs else "-"
                lines.append(f"| ... {name} | {row.unit} | {fmt(rate)} | | {share} |")
    notes = [f"- {row.workload}: {'; '.join(row.notes)}" for row in rows if row.notes]
    return "\n".join(lines + [""] + notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 repeats: a smoke run")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per implementation (default 5; quick 2)")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--compile", action="store_true", help="torch.compile gpt2lite's model for the train step")
    parser.add_argument("--gpu-batch", type=int, default=16, help="GPU training batch size (of 1024-token rows)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results (default: print only)")
    parser.add_argument("--peers", action="store_true", help="only: gpt2lite against CTranslate2, ONNX Runtime and "
                        "llama.cpp (see benchmarks/peers.py for what to install)")
    parser.add_argument("--vocab-dir", type=Path, default=None, help="folder with GPT-2's encoder.json and vocab.bpe")
    parser.add_argument("--llama-convert", type=Path, default=None, help="llama.cpp's convert_hf_to_gguf.py")
    parser.add_argument("--alone", action="store_true", help="with --peers: gpt2lite's rows only, in a process that "
                        "loads none of the peers (their libraries' threads slow torch down in a shared process)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (2 if args.quick else 5)
    device = torch.device(args.device)
    torch.set_float32_matmul_precision("high")  # TF32 on GPUs that have it; no effect on the CPU
    chosen = ["peers"] if args.peers else args.only.split(",") if args.only else list(WORKLOADS)
    unknown = set(chosen) - set(WORKLOADS) - {"peers"}
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")
    info = machine(device)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    rows: list[Row] = []
    start = time.perf_counter()
    for name in chosen:
        t0 = time.perf_counter()
        rows += (peers if name == "peers" else WORKLOADS[name])(args, device)
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "quick": args.quick, "rows": [asdict(r) for r in rows]},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
