"""The ``gpt2lite`` command: train a small model, let a model write, show a model's parameters.

    gpt2lite train --steps 600 --save my-gpt            # a small GPT on Tiny Shakespeare, about a minute on a CPU
    gpt2lite generate my-gpt --prompt "ROMEO:" -n 200    # streams to the terminal as it writes
    gpt2lite generate gpt2 --prompt "Hello" --top-p 0.9  # a hub id works too (downloads OpenAI's GPT-2)
    gpt2lite params gpt2-medium                          # the parameter table of a preset, a folder or a hub id

``python -m gpt2lite`` is the same command; given options only (``python -m gpt2lite --steps 100``) it trains.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from . import __version__
from .config import PRESETS, GPTConfig
from .model import GPT

COMMANDS = ("train", "generate", "params")
TOKENIZER_FILE = "tokenizer.json"  # what `train --save` writes beside the weights, so `generate` can read them


# ----------------------------------------------------------------------------------------- tokenizers
def save_tokenizer(tokenizer, directory: Path) -> None:
    """Record which tokenizer a saved model reads: its characters, or GPT-2's BPE."""
    from .data import CharTokenizer

    kind = {"kind": "char", "chars": tokenizer.chars} if isinstance(tokenizer, CharTokenizer) else {"kind": "gpt2"}
    (directory / TOKENIZER_FILE).write_text(json.dumps(kind, ensure_ascii=False) + "\n", encoding="utf-8")


def load_tokenizer(model_dir: Path | None):
    """The tokenizer a model folder names in tokenizer.json (written by `train --save`); GPT-2's BPE otherwise."""
    spec = {"kind": "gpt2"}
    if model_dir is not None and (model_dir / TOKENIZER_FILE).is_file():
        spec = json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))
    if spec.get("kind") == "char":
        from .data import CharTokenizer

        return CharTokenizer("".join(spec["chars"]))
    if spec.get("kind") != "gpt2":
        raise ValueError(f"{model_dir / TOKENIZER_FILE} names an unknown tokenizer {spec.get('kind')!r}; "
                         "expected 'char' or 'gpt2'")
    from .tokenizer import BPETokenizer

    return BPETokenizer.from_tiktoken("gpt2")


def _printer(tokenizer):
    """A function that turns one new token id into the text it completes (bytes split across tokens wait)."""
    if hasattr(tokenizer, "decode_bytes"):
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return lambda token: utf8.decode(tokenizer.decode_bytes([token]))
    return lambda token: tokenizer.decode([token])


# ------------------------------------------------------------------------------------------- commands
def _train(args: argparse.Namespace) -> None:
    from .data import load_shakespeare
    from .device import get_device
    from .training import TrainConfig, train

    train_ids, val_ids, tokenizer = load_shakespeare(args.level, data_dir=args.data_dir)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=args.context, n_layer=args.layers,
                       n_head=args.heads, n_embd=args.width)
    torch.manual_seed(args.seed)
    model = GPT(config)
    print(f"{args.level}-level GPT: {model.num_parameters():,} parameters, {len(train_ids):,} training tokens")
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch, learning_rate=args.lr, min_lr=args.lr / 10,
                      warmup_steps=max(1, args.steps // 10), eval_interval=max(1, args.steps // 5), eval_iters=10,
                      device=args.device, seed=args.seed)
    history = train(model, train_ids, val_ids, cfg)
    print(f"validation loss: {history.val_loss[0]:.3f} before training, {history.val_loss[-1]:.3f} after")
    if args.save:
        directory = model.save_pretrained(args.save)
        save_tokenizer(tokenizer, directory)
        print(f"saved to {directory} (gpt2lite generate {directory} writes with it)")
    if args.tokens:
        device = get_device(args.device)
        print("-" * 60)
        _write(model.to(device), tokenizer, args.prompt, args.tokens, temperature=0.8, top_k=40, top_p=None,
               seed=args.seed, device=device)


def _load(name: str) -> tuple[GPT, Path]:
    """A model in Hugging Face format, from a folder or a hub id (downloaded once), and the folder it is in."""
    from .pretrained import resolve_checkpoint

    folder = resolve_checkpoint(name)
    return GPT.from_pretrained(folder), folder


def _write(model: GPT, tokenizer, prompt: str, tokens: int, temperature: float, top_k: int | None,
           top_p: float | None, seed: int, device: torch.device | str, out=None) -> str:
    """Stream `tokens` new tokens after `prompt` to `out` as they come; return all the text."""
    out = out or sys.stdout
    if not prompt:
        raise ValueError("the prompt is empty: give the model some text to continue, e.g. --prompt 'ROMEO:'")
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)
    generator = torch.Generator(device).manual_seed(seed)
    text = [prompt]
    out.write(prompt)
    piece = _printer(tokenizer)
    for token in model.stream(idx, tokens, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator):
        text.append(piece(int(token[0])))
        out.write(text[-1])
        out.flush()
    out.write("\n")
    return "".join(text)


def _generate(args: argparse.Namespace) -> None:
    from .device import get_device

    model, folder = _load(args.model)
    device = get_device(args.device)
    _write(model.to(device), load_tokenizer(folder), args.prompt, args.tokens, args.temperature, args.top_k,
           args.top_p, args.seed, device)


def parameter_table(model: GPT) -> str:
    """One row per parameter tensor (name, shape, count), the tied output matrix noted once, and the total."""
    rows = [(name, "x".join(map(str, p.shape)), p.numel()) for name, p in model.named_parameters()]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'parameter':<{width}}  {'shape':>12}  {'count':>13}"]
    lines += [f"{name:<{width}}  {shape:>12}  {count:>13,}" for name, shape, count in rows]
    tied = model.lm_head.weight is model.transformer.wte.weight
    lines.append(f"{'total' + (' (lm_head.weight is tied to wte)' if tied else ''):<{width}}  {'':>12}  "
                 f"{model.num_parameters():>13,}")
    return "\n".join(lines)


def _params(args: argparse.Namespace) -> None:
    if args.model in PRESETS:  # a preset needs no weights: count on the meta device, without memory
        with torch.device("meta"):
            model = GPT(GPTConfig.from_name(args.model))
    else:
        model, _ = _load(args.model)
    print(parameter_table(model))


# --------------------------------------------------------------------------------------------- parser
def _checked(kind, ok, what: str):
    """An argparse type: text -> kind(text), refused unless ok(value), with "must be <what>, got <text>"."""
    def parse(text: str):
        value = kind(text)
        if not ok(value):  # written so that nan is refused too
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value: 'x'"
    return parse


def _positive(kind):
    return _checked(kind, lambda value: value > 0, "positive")


def _non_negative(kind):
    return _checked(kind, lambda value: value >= 0, ">= 0")


def build_parser(prog: str = "gpt2lite") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gpt2lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,generate,params}")

    train = sub.add_parser("train", help="train a small GPT on Tiny Shakespeare, then let it write")
    train.add_argument("--level", choices=("char", "bpe"), default="char", help="tokens: characters or GPT-2 BPE")
    train.add_argument("--steps", type=_positive(int), default=600, help="optimizer steps")
    train.add_argument("--layers", type=_positive(int), default=4)
    train.add_argument("--width", type=_positive(int), default=128, help="n_embd")
    train.add_argument("--heads", type=_positive(int), default=4)
    train.add_argument("--context", type=_positive(int), default=64, help="block_size in tokens")
    train.add_argument("--batch", type=_positive(int), default=32)
    train.add_argument("--lr", type=_positive(float), default=3e-3)
    train.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    train.add_argument("--data-dir", default=None, help="folder with tinyshakespeare.txt (default: download/cache)")
    train.add_argument("--prompt", default="ROMEO:\n")
    train.add_argument("--tokens", type=_non_negative(int), default=300,
                       help="tokens to write after training (0: none)")
    train.add_argument("--save", default=None, help="write the model here (Hugging Face format + tokenizer.json)")
    train.add_argument("--seed", type=_non_negative(int), default=1337)
    train.set_defaults(run=_train)

    gen = sub.add_parser("generate", help="continue a prompt with a saved model or a hub id, streaming")
    gen.add_argument("model", help="a folder written by `train --save` or save_pretrained, or a hub id like gpt2")
    gen.add_argument("--prompt", "-p", required=True, help="the text to continue")
    gen.add_argument("--tokens", "-n", type=_positive(int), default=100, help="new tokens to write")
    gen.add_argument("--temperature", "-t", type=float, default=0.8, help="0 picks the most likely token")
    gen.add_argument("--top-k", type=_positive(int), default=None, help="sample from the k most likely tokens")
    gen.add_argument("--top-p", type=float, default=None, help="sample from the smallest set with this mass")
    gen.add_argument("--seed", type=_non_negative(int), default=0)
    gen.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    gen.set_defaults(run=_generate)

    params = sub.add_parser("params", help="the parameter table of a preset, a saved model or a hub id")
    params.add_argument("model", help=f"a preset ({', '.join(PRESETS)}), a model folder or a hub id")
    params.set_defaults(run=_params)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "gpt2lite") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "train")  # `python -m gpt2lite --steps 100`, as before the subcommands
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, TypeError, OSError) as err:  # bad input: one clear line, not a traceback
        parser.exit(2, f"{prog} {args.command}: error: {err}\n")
    return 0
