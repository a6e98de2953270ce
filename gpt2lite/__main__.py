"""``python -m gpt2lite``: train a small GPT on Tiny Shakespeare, then let it write.

The defaults finish in about a minute on a laptop CPU. The same few lines are what the book's
training chapter walks through; ``--help`` lists the knobs.
"""

from __future__ import annotations

import argparse

import torch

from . import GPT, GPTConfig
from .data import load_shakespeare
from .device import get_device
from .train import TrainConfig, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gpt2lite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--level", choices=("char", "bpe"), default="char", help="tokens: characters or GPT-2 BPE")
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=128, help="n_embd")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=64, help="block_size in tokens")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--data-dir", default=None, help="folder with tinyshakespeare.txt (default: download/cache)")
    parser.add_argument("--prompt", default="ROMEO:\n")
    parser.add_argument("--tokens", type=int, default=300, help="tokens to generate after training")
    parser.add_argument("--save", default=None, help="write the trained model here (Hugging Face format)")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args(argv)

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

    device = get_device(args.device)
    prompt = torch.tensor([tokenizer.encode(args.prompt)], device=device)
    out = model.generate(prompt, args.tokens, temperature=0.8, top_k=40,
                         generator=torch.Generator(device).manual_seed(args.seed))
    print("-" * 60)
    print(tokenizer.decode(out[0].tolist()))
    if args.save:
        print(f"saved to {model.save_pretrained(args.save)}")


if __name__ == "__main__":
    main()
