"""Train a tiny GPT on Tiny Shakespeare for a few steps and write what happened to an output folder.

tests/test_ddp.py runs it as one plain process and under torchrun as two processes with half the
batch each, which must follow the same loss curve:

    python tests/ddp_train.py OUT_DIR BATCH_SIZE MAX_STEPS [--resume]
    torchrun --nproc_per_node=2 tests/ddp_train.py OUT_DIR BATCH_SIZE MAX_STEPS [--resume]
"""

import argparse
import dataclasses
import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_model

from gpt2lite import GPT, GPTConfig
from gpt2lite.data import load_shakespeare
from gpt2lite.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("batch_size", type=int)
    parser.add_argument("max_steps", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    train_ids, val_ids, tokenizer = load_shakespeare("char")
    torch.manual_seed(0)  # every process builds the same initial model (DDP would copy rank 0's anyway)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=32))
    cfg = TrainConfig(
        max_steps=args.max_steps, lr_decay_steps=6, batch_size=args.batch_size, grad_accum_steps=2,
        learning_rate=1e-2, min_lr=1e-3, warmup_steps=2, eval_interval=3, eval_iters=2, device="cpu",
        checkpoint_dir=args.out_dir / "checkpoints", checkpoint_interval=3, progress=False,
    )
    history = train(model, train_ids, val_ids, cfg, resume=args.resume)
    rank = int(os.environ.get("RANK", "0"))
    save_model(model, args.out_dir / f"model-rank{rank}.safetensors")
    (args.out_dir / f"history-rank{rank}.json").write_text(json.dumps(dataclasses.asdict(history)))


if __name__ == "__main__":
    main()
