"""The engines people switch to for fast generation, on gpt2lite's own weights: CTranslate2, ONNX Runtime, llama.cpp.

``benchmarks/suite.py --peers`` uses this. Each engine gets the same random GPT-2 weights, converted offline with
the engine's own tools, and the same prompt; each runs greedy decoding, and its tokens are compared with
gpt2lite's (a mismatch is reported, not hidden). None of these packages is a dependency of gpt2lite, and none
runs in CI. An engine that is not installed is skipped with the command that installs it:

    pip install ctranslate2               # CTranslate2 (wheels)
    pip install onnxruntime onnxscript    # ONNX Runtime, and torch.onnx's exporter
    pip install llama-cpp-python gguf     # llama.cpp: built from source, about 8 minutes (cmake, g++)

llama.cpp's converter (``convert_hf_to_gguf.py``) ships in llama-cpp-python's source distribution; pass its path
with ``--llama-convert``. All three need GPT-2's tokenizer files (OpenAI's encoder.json and vocab.bpe, which
become vocab.json and merges.txt): ``--vocab-dir``, or gpt2lite's own download of them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from gpt2lite import GPT


@dataclass
class Engine:
    """One peer, ready to run: `generate(prompt_ids, n)` returns its n greedy token ids."""

    name: str
    weight_bytes: float  # bytes per weight it reads (4 for float32, about 1 for its 8-bit formats)
    generate: Callable[[list[int], int], list[int]]


def hf_folder(model: GPT, folder: Path, vocab_dir: Path) -> Path:
    """model in Hugging Face's format, with GPT-2's tokenizer files beside it (what the converters read)."""
    model.save_pretrained(folder)
    shutil.copy(vocab_dir / "encoder.json", folder / "vocab.json")
    shutil.copy(vocab_dir / "vocab.bpe", folder / "merges.txt")
    config = json.loads((folder / "config.json").read_text())
    config["n_ctx"] = config["n_positions"]  # llama.cpp's converter reads the old name
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    return folder


# ------------------------------------------------------------------------------------------ CTranslate2
def ctranslate2_engines(folder: Path, work: Path, threads: int) -> list[Engine] | str:
    try:
        import ctranslate2
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        return "not installed: pip install ctranslate2"
    pieces = {i: s for s, i in json.loads((folder / "vocab.json").read_text()).items()}  # ids -> token strings
    engines = []
    for quantization, size in (("float32", 4), ("int8", 1)):
        out = work / f"ct2-{quantization}"
        TransformersConverter(str(folder)).convert(str(out), quantization=quantization, force=True)
        generator = ctranslate2.Generator(str(out), device="cpu", intra_threads=threads, inter_threads=1)

        def generate(ids: list[int], n: int, generator=generator) -> list[int]:
            # min_length = max_length: exactly n tokens, as gpt2lite generates (no stop at the end-of-text id)
            result = generator.generate_batch([[pieces[i] for i in ids]], max_length=n, min_length=n, sampling_topk=1,
                                              include_prompt_in_result=False)
            return list(result[0].sequences_ids[0])

        engines.append(Engine(f"CTranslate2 {quantization}", size, generate))
    return engines


# ------------------------------------------------------------------------------------------ ONNX Runtime
class DecodeStep(torch.nn.Module):
    """One generation step of a gpt2lite GPT as a pure function with a static cache, for export:
    (ids (1, 1), pos (1,), keys and values (L, 1, H, S, hd) each) -> (logits (1, V), the caches with this token's
    key and value written at slot pos). Attention reads slots 0 .. pos. Same weights, same maths as the model."""

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, pos: torch.Tensor, cache_k: torch.Tensor, cache_v: torch.Tensor):
        m, c = self.model, self.model.config
        S = cache_k.size(3)
        x = m.transformer.wte(ids) + m.transformer.wpe(pos)  # (1, 1, C)
        allowed = torch.arange(S)[None, :] <= pos[:, None]  # (1, S)
        keys, values = [], []
        for layer, block in enumerate(m.transformer.h):
            h = block.ln_1(x)
            q, k, v = F.linear(h, block.attn.c_attn.weight, block.attn.c_attn.bias).split(c.n_embd, dim=2)
            q, k, v = (t.view(1, 1, c.n_head, c.head_dim).transpose(1, 2) for t in (q, k, v))  # (1, H, 1, hd)
            k = cache_k[layer].index_copy(2, pos, k)  # (1, H, S, hd)
            v = cache_v[layer].index_copy(2, pos, v)
            keys.append(k)
            values.append(v)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed).transpose(1, 2).reshape(1, 1, c.n_embd)
            x = x + F.linear(y, block.attn.c_proj.weight, block.attn.c_proj.bias)
            h = F.gelu(F.linear(block.ln_2(x), block.mlp.c_fc.weight, block.mlp.c_fc.bias), approximate="tanh")
            x = x + F.linear(h, block.mlp.c_proj.weight, block.mlp.c_proj.bias)
        logits = F.linear(m.transformer.ln_f(x), m.transformer.wte.weight)[:, -1]  # (1, V)
        return logits, torch.stack(keys), torch.stack(values)


def onnxruntime_engines(model: GPT, work: Path, threads: int, slots: int) -> list[Engine] | str:
    """The decode step exported with torch.onnx (dynamo), float32 and int8 (onnxruntime's dynamic quantization,
    per channel); a static cache of `slots` positions. The prompt goes through the same step one token a time."""
    try:
        import numpy as np
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        return "not installed: pip install onnxruntime onnxscript"
    c = model.config
    step = DecodeStep(model.float().eval())
    shape = (c.n_layer, 1, c.n_head, slots, c.head_dim)
    example = (torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, dtype=torch.long), torch.zeros(shape),
               torch.zeros(shape))
    fp32 = work / "decode-step.onnx"
    torch.onnx.export(step, example, str(fp32), dynamo=True, input_names=["ids", "pos", "cache_k", "cache_v"],
                      output_names=["logits", "k", "v"], external_data=True)
    int8 = work / "decode-step-int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # Its threads would otherwise spin on the cores after each run, and slow whatever the harness times next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    engines = []
    for path, name, size in ((fp32, "ONNX Runtime float32", 4), (int8, "ONNX Runtime int8", 1)):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def generate(ids: list[int], n: int, session=session) -> list[int]:
            k = v = np.zeros(shape, dtype=np.float32)
            out, feed = [], list(ids)
            for pos in range(len(ids) + n - 1):
                token = feed[pos] if pos < len(ids) else out[-1]
                logits, k, v = session.run(None, {"ids": np.array([[token]]), "pos": np.array([pos]),
                                                  "cache_k": k, "cache_v": v})
                if pos >= len(ids) - 1:
                    out.append(int(logits[0].argmax()))
            return out

        engines.append(Engine(name, size, generate))
    return engines


# ------------------------------------------------------------------------------------------ llama.cpp
def llama_cpp_engines(folder: Path, work: Path, threads: int, convert: Path | None) -> list[Engine] | str:
    try:
        import llama_cpp
    except ImportError:
        return "not installed: pip install llama-cpp-python gguf (builds llama.cpp, about 8 minutes)"
    if convert is None or not convert.exists():
        return "pass --llama-convert PATH/convert_hf_to_gguf.py (it is in llama-cpp-python's sdist, vendor/llama.cpp)"
    engines = []
    for kind, size in (("f32", 4), ("q8_0", 34 / 32)):  # q8_0: 32 int8 weights and one fp16 scale per block
        gguf = work / f"gpt2-{kind}.gguf"
        subprocess.run([sys.executable, str(convert), str(folder), "--outfile", str(gguf), "--outtype", kind],
                       check=True, capture_output=True)
        llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=folder_context(folder), n_threads=threads,
                              n_threads_batch=threads, logits_all=False, verbose=False)

        def generate(ids: list[int], n: int, llm=llm) -> list[int]:
            llm.reset()
            out = []
            for token in llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
                out.append(int(token))
                if len(out) == n:
                    break
            return out

        engines.append(Engine(f"llama.cpp {kind}", size, generate))
    return engines


def folder_context(folder: Path) -> int:
    return int(json.loads((folder / "config.json").read_text())["n_positions"])


def peer_engines(model: GPT, prompt: list[int], n: int, vocab_dir: Path, work: Path, threads: int,
                 llama_convert: Path | None) -> tuple[list[Engine], list[str]]:
    """Every installed peer, converted from model's weights, and notes: how many of each one's greedy tokens equal
    gpt2lite's, and what was skipped and why."""
    folder = hf_folder(model, work / "hf", vocab_dir)
    ours = model.generate(torch.tensor([prompt]), n, temperature=0)[0, len(prompt):].tolist()
    families = {
        "CTranslate2": lambda: ctranslate2_engines(folder, work, threads),
        "ONNX Runtime": lambda: onnxruntime_engines(model, work, threads, len(prompt) + n),
        "llama.cpp": lambda: llama_cpp_engines(folder, work, threads, llama_convert),
    }
    engines, notes = [], []
    for family, make in families.items():
        try:
            made = make()
        except Exception as exc:  # a converter that fails is reported, and the others still run
            notes.append(f"{family}: failed ({type(exc).__name__}: {str(exc)[:300]})")
            continue
        if isinstance(made, str):
            notes.append(f"{family}: {made}")
            continue
        for engine in made:
            tokens = engine.generate(prompt, n)
            first = next((i for i, (a, b) in enumerate(zip(tokens, ours)) if a != b), min(len(tokens), n))
            notes.append(f"{engine.name}: greedy tokens equal to gpt2lite fp32 for the first {first} of {n}"
                         + ("" if len(tokens) == n else f" (it returned {len(tokens)} tokens)"))
            engines.append(engine)
    return engines, notes
