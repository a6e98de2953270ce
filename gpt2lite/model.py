"""The GPT model: embeddings, a stack of decoder blocks, a final LayerNorm and a tied output layer.

Module and parameter names follow Hugging Face's GPT2LMHeadModel (``transformer.h.0.attn.c_attn``,
...), so loading OpenAI's weights is a matter of transposing four matrices (see ``pretrained.py``).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn

from .attention import KVCache, LayerCache, SelfAttention
from .config import GPTConfig
from .generate import generate, stream
from .linear import Linear
from .validate import integer


class MLP(nn.Module):
    """The position-wise feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU is the tanh approximation
        self.c_proj = Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """One decoder block: attention then MLP, each wrapped in a residual connection.

    GPT-2 normalises *before* each sub-layer (pre-LN); GPT-1 normalised *after* the residual
    add (post-LN). ``config.pre_ln`` switches between the two.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.pre_ln = config.pre_ln
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None, cache: LayerCache | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, C) at positions pos (T,), with this layer's cache view -> (x (B, T, C), attention weights)."""
        if self.pre_ln:
            a, weights = self.attn(self.ln_1(x), pos, cache, need_weights)
            x = x + a
            x = x + self.mlp(self.ln_2(x))
        else:
            a, weights = self.attn(x, pos, cache, need_weights)
            x = self.ln_1(x + a)
            x = self.ln_2(x + self.mlp(x))
        return x, weights  # (B, T, C)


def _embedding(num: int, dim: int) -> nn.Embedding:
    """nn.Embedding, left unfilled on the meta device: there a model is shapes only (for counting parameters), and
    torch's first random fill of a meta tensor costs a second."""
    if torch.get_default_device().type == "meta":
        return nn.Embedding(num, dim, _weight=torch.empty(num, dim))
    return nn.Embedding(num, dim)


class GPT(nn.Module):
    """GPT-2 (and, through its config switches, GPT-1 and a BERT-style encoder)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT expects a GPTConfig, got {type(config).__name__}; try GPTConfig.from_name('gpt2')")
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=_embedding(config.vocab_size, config.n_embd),  # token embeddings
                wpe=_embedding(config.block_size, config.n_embd),  # learned position embeddings
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                # Post-LN blocks already end in a LayerNorm, so GPT-1 has no final one.
                ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
                if config.pre_ln
                else nn.Identity(),
            )
        )
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying: one matrix reads and writes tokens

        if self.lm_head.weight.device.type != "meta":  # a model on the meta device has shapes only: nothing to fill
            self._init_parameters()

    def _init_parameters(self) -> None:
        self.apply(self._init_weights)
        # GPT-2 scales the init of the layers that write into the residual stream by 1/sqrt(2 * n_layer),
        # so the stream's variance does not grow with depth (two such writes per block).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    # ------------------------------------------------------------------ forward
    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, last_only: bool = False) -> torch.Tensor:
        """Token ids (B, T) -> next-token logits (B, T, vocab_size).

        With a ``cache`` the ids are the continuation of what the cache already holds: positions
        start at ``cache.pos``, and the cache is extended by T. With ``last_only`` only the last
        position's logits are computed, (B, 1, vocab_size): all that generation needs, and the
        output layer is the largest matrix product of a forward pass.
        """
        logits, _ = self._run(idx, cache, need_weights=False, last_only=last_only)
        return logits

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head, (n_layer, B, n_head, T, T), for plotting."""
        _, maps = self._run(idx, None, need_weights=True)
        return torch.stack(maps)

    def _run(
        self, idx: torch.Tensor, cache: KVCache | None, need_weights: bool, last_only: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        past = cache.pos if cache is not None else 0
        self._check_input(idx, past)
        B, T = idx.shape
        if cache is not None:
            self._check_cache(cache, B)
        pos = torch.arange(past, past + T, device=idx.device)  # (T,)
        try:
            tok = self.transformer.wte(idx)  # (B, T, C)
        except IndexError:  # an id outside the vocabulary: on the CPU the lookup itself refuses it
            tok = None
        if tok is None:
            self.check_token_ids(idx)  # a ValueError that names the id (not torch's "index out of range in self")
            tok = self.transformer.wte(idx)
        x = tok + self.transformer.wpe(pos)  # (B, T, C) + (T, C) broadcasts
        x = self.transformer.drop(x)
        maps = []
        views = cache.layers() if cache is not None else [None] * len(self.transformer.h)
        for block, view in zip(self.transformer.h, views):
            x, weights = block(x, pos, view, need_weights)
            maps.append(weights)
        if cache is not None:
            cache.advance(T)
        if last_only:
            x = x[:, -1:]  # (B, 1, C)
        x = self.transformer.ln_f(x)
        return self.lm_head(x), maps  # (B, T or 1, vocab_size)

    def _check_input(self, idx: torch.Tensor, past: int) -> None:
        """Turn the mistakes people make into clear errors instead of a crash deep inside torch."""
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"idx must be a LongTensor of token ids, got {type(idx).__name__}; use torch.tensor([ids])")
        if idx.dtype not in (torch.long, torch.int32):
            raise TypeError(f"idx must hold integer token ids (torch.long), got dtype {idx.dtype}")
        if idx.dim() != 2:
            hint = " (add a batch dimension: idx.unsqueeze(0))" if idx.dim() == 1 else ""
            raise ValueError(f"idx must have shape (B, T), got {tuple(idx.shape)}{hint}")
        if idx.size(1) == 0:
            raise ValueError("idx is empty (T == 0): give the model at least one token")
        if idx.size(0) == 0:
            raise ValueError("idx holds no sequences (batch size B == 0): give the model at least one")
        if past + idx.size(1) > self.config.block_size:
            raise ValueError(
                f"sequence length {past + idx.size(1)} exceeds the context of {self.config.block_size} tokens "
                f"(block_size); crop the input to its last {self.config.block_size} tokens "
                "(generate() does this for you)"
            )
        weight = self.transformer.wte.weight
        if idx.device != weight.device and weight.device.type != "meta":
            raise ValueError(f"idx is on {idx.device} but the model is on {weight.device}; move it with idx.to(device)")
        # The ids' values are not read here: that would wait for the GPU on every forward (two syncs per training
        # step, one per generated token). They are checked where they enter (stream/generate, train) by
        # check_token_ids, and on the CPU an id outside the vocabulary fails the lookup, which calls it too.

    def check_token_ids(self, idx: torch.Tensor) -> None:
        """Raise a ValueError naming the first id outside [0, vocab_size). Reads the ids back to Python (one
        device sync): call it once where ids enter, not in the hot path."""
        if idx.device.type == "meta" or idx.numel() == 0:
            return
        V = self.config.vocab_size
        if ((idx < 0) | (idx >= V)).any().item():  # the one read back
            lo, hi = int(idx.min()), int(idx.max())
            raise ValueError(f"token id {lo if lo < 0 else hi} is outside the vocabulary [0, {V})")

    def _check_cache(self, cache: KVCache, batch_size: int) -> None:
        """A cache made for another batch size or another model is an error here, not a shape error inside torch."""
        c = self.config
        expected = (c.n_layer, batch_size, c.n_head, c.block_size, c.head_dim)
        if tuple(cache.k.shape) == expected:
            return
        if cache.k.shape[1] != batch_size:
            problem = f"was made for a batch of {cache.k.shape[1]} sequences but idx has {batch_size}"
        else:
            problem = f"has shape {tuple(cache.k.shape)}, not (n_layer, B, n_head, block_size, head_dim) = {expected}"
        raise ValueError(f"the KV cache {problem}; make a fitting one with model.new_cache({batch_size})")

    # ------------------------------------------------------------------ helpers
    def num_parameters(self) -> int:
        """Number of parameters; the tied embedding / output matrix is counted once."""
        return sum(p.numel() for p in self.parameters())  # parameters() yields a shared tensor once

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty KV cache for this model, on its device and in its dtype."""
        weight = self.transformer.wte.weight
        return KVCache(self.config, integer("batch_size", batch_size, minimum=1), device=weight.device, dtype=weight.dtype)

    @property
    def cache_can_slide(self) -> bool:
        """Whether cached keys and values stay right when generation moves past the context.

        Not in GPT-2: its position embeddings are absolute and enter before the first block, so when the window
        moves on, every token it holds changes position and every cached key is stale. A model whose attention
        sees positions only relatively (rotary embeddings, say) could drop its oldest entry and go on.
        """
        return False

    @torch.no_grad()
    def next_logits(self, seq: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, V) for the token after seq (B, L), looking at no more than the last block_size tokens.

        With a cache, seq is what the previous call saw plus one new token, and only that token is run. Past
        the context the cache slides if the model allows it (``cache_can_slide``); otherwise it is refilled
        from the last block_size tokens, at positions 0 .. block_size - 1.
        """
        window = self.config.block_size
        if cache is None:
            return self(seq[:, -window:], last_only=True)[:, -1]
        if cache.pos == 0 or (seq.size(1) > window and not self.cache_can_slide):
            cache.reset()
            return self(seq[:, -window:], cache=cache, last_only=True)[:, -1]
        if cache.pos == window:  # full, and its keys stay right: make room for the new one
            cache.slide(1)
        return self(seq[:, -1:], cache=cache)[:, -1]  # only the newest token: everything else is cached

    # Generation lives in generate.py; these make it available as model.generate(...) and model.stream(...).
    generate = generate
    stream = stream

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path, **overrides) -> "GPT":
        """Load GPT-2 weights in Hugging Face format: a local directory or a hub id such as "gpt2"."""
        from .pretrained import load_pretrained

        return load_pretrained(name_or_dir, **overrides)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json + model.safetensors that transformers.GPT2LMHeadModel can load."""
        from .pretrained import save_pretrained

        return save_pretrained(self, directory)
