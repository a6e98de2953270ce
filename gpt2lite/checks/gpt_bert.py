"""Checks for chapter 10's exercises: the attention mask with a KV cache, BERT's 80/10/10 masking, the masked-LM
loss by hand, and the parameter count of a GPT by formula."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from gpt2lite.attention import causal_mask
from gpt2lite.config import GPTConfig

from ._core import (call, expect_close, expect_equal, fail, forbid, forbid_helpers, loss_functions, meta_model,
                    model_building, passed)


def check_attention_mask(fn: Callable[[int, int, bool], torch.Tensor]) -> None:
    """`fn(t_query, t_key, causal)` returns the (t_query, t_key) boolean mask, True where a query may look at a key;
    the queries are the last t_query positions, and with causal=False every query sees every key."""
    instead = ("build the mask yourself: compare key positions torch.arange(t_key) with the queries' absolute "
               "positions, t_key - t_query + i (or use tril with a shifted diagonal)")
    forbidden = forbid({causal_mask: "gpt2lite.attention.causal_mask"}, instead) + forbid_helpers(__name__)
    for tq, tk in [(4, 4), (3, 7), (1, 5), (1, 1), (6, 6), (2, 9), (5, 8)]:
        want = causal_mask(tq, tk)
        ones = torch.ones(tq, tk, dtype=torch.bool)
        shift = tk - tq  # query i sits at position shift + i
        text = f"{fn.__name__}({tq}, {tk}, causal=True)"
        expect_equal(text, call(fn, tq, tk, causal=True, forbidden=forbidden), want, mistakes={
            "the queries are the last t_query positions: query i sits at t_key - t_query + i, so shift the "
            "diagonal by t_key - t_query (tril(diagonal=t_key - t_query))": lambda: ones.tril(),
            "this hides the query's own position: a query sees keys up to and including itself (<=, not <)":
                lambda: ones.tril(shift - 1),
            "this lets every query see one key too far: an off-by-one in the diagonal": lambda: ones.tril(shift + 1),
            "True must mean 'may look': this is the inverse of the mask": lambda: ~want,
            "this keeps the upper triangle (the future): a query sees the keys before it": lambda: ones.triu(shift),
        }, hint="query i may look at keys 0 .. t_key - t_query + i")
        text = f"{fn.__name__}({tq}, {tk}, causal=False)"
        expect_equal(text, call(fn, tq, tk, causal=False, forbidden=forbidden), ones, mistakes={
            "with causal=False every query sees every key (BERT): return an all-True mask": lambda: want,
        }, hint="with causal=False the mask is all True")
    passed("causal and bidirectional masks match the reference, for queries at the end of longer sequences too")


def check_bert_mask(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    """`fn(x, mask_id, vocab_size, p=0.15, seed=0)` chooses positions with probability p and returns
    (inputs, targets): targets the original id at chosen positions and -100 elsewhere; at chosen positions inputs
    holds mask_id (80%), a random id (10%) or the original (10%). The same seed gives the same result."""
    V, mask_id = 65, 65
    x = torch.randint(V, (128, 512), generator=torch.Generator().manual_seed(0))  # 65,536 positions
    text = f"{fn.__name__}(x of shape {tuple(x.shape)}, mask_id={mask_id}, vocab_size={V})"
    original = x.clone()
    got = call(fn, x, mask_id, V, call_text=text)
    if not torch.equal(x, original):
        fail(text, "x unchanged", "x was modified", "work on a copy (x.clone(), masked_fill, torch.where), "
                                                     "not in place (masked_fill_, x[...] = ...)")
    if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
        fail(text, "a pair of tensors (inputs, targets)", f"a {type(got).__name__}", "return inputs, targets")
    inputs, targets = got
    for name, t in (("inputs", inputs), ("targets", targets)):
        if t.shape != x.shape:
            fail(text, f"{name} of shape {tuple(x.shape)}", f"shape {tuple(t.shape)}", f"{name} has x's shape")

    chosen = targets != -100  # (B, T)
    if not torch.equal(targets[chosen], x[chosen]):
        hint = ("targets keep the original ids (what the model must predict), not the masked inputs"
                if (targets[chosen] == inputs[chosen]).all() else "at a chosen position, the target is x's id there")
        fail(text, "targets equal to x wherever they are not -100", "other values there", hint)
    frac = chosen.float().mean().item()
    if abs(frac - 0.15) > 0.01:
        hint = "a position is chosen where torch.rand(...) < p"
        if abs(frac - 0.85) < 0.01:
            hint = "chosen and unchosen are swapped: the target is the id where chosen and -100 where not"
        elif frac > 0.99:
            hint = "targets must be -100 at the positions that were not chosen"
        fail(text, "about 15% of the targets not -100 (p=0.15)", f"{frac:.1%}", hint)
    if not torch.equal(inputs[~chosen], x[~chosen]):
        fail(text, "inputs equal to x where the target is -100", "changed ids there",
             "only chosen positions may change: use the same `chosen` mask for inputs and targets")
    if not ((inputs >= 0) & (inputs < V) | (inputs == mask_id)).all():
        fail(text, f"ids in [0, {V}) or mask_id", f"values from {inputs.min().item()} to {inputs.max().item()}",
             "random ids come from torch.randint(vocab_size, ...)")

    picked, original_ids = inputs[chosen], x[chosen]
    masked = (picked == mask_id).float().mean().item()
    kept = (picked == original_ids).float().mean().item()  # unchanged, plus random ids that hit the original
    randomised = 1.0 - masked - kept
    if abs(masked - 0.8) > 0.02 or abs(kept - (0.1 + 0.1 / V)) > 0.02:
        hint = "draw one number u per position: u < 0.8 -> mask_id, 0.8 <= u < 0.9 -> a random id, else unchanged"
        if masked > 0.98:
            hint = ("every chosen position became mask_id: that is the chapter's simple masking. BERT puts mask_id "
                    "in 80%, a random id in 10% and leaves 10% unchanged")
        elif randomised < 0.02:
            hint = "no chosen position got a random id: 10% of them take torch.randint(vocab_size, ...)"
        elif kept < 0.05:
            hint = "no chosen position stayed unchanged: 10% of them keep their original id"
        fail(text, "among chosen positions: 80% mask_id, about 10% a random id, about 10% unchanged",
             f"{masked:.1%} mask_id, {randomised:.1%} random, {kept:.1%} unchanged", hint)

    again = call(fn, x, mask_id, V, call_text=text)
    if not (torch.equal(again[0], inputs) and torch.equal(again[1], targets)):
        fail(text + ", twice", "the same result both times (seed=0)", "different results",
             "use torch.Generator().manual_seed(seed) and pass generator= to every torch.rand and torch.randint")
    other = call(fn, x, mask_id, V, seed=1, call_text=text[:-1] + ", seed=1)")
    if torch.equal(other[1], targets):
        fail(text[:-1] + ", seed=1)", "another choice of positions than with seed=0", "the same positions",
             "seed the generator with the `seed` argument")

    small = x[:2, :16]
    for p, want_targets in [(0.0, torch.full_like(small, -100)), (1.0, small)]:
        small_text = f"{fn.__name__}(x of shape {tuple(small.shape)}, mask_id={mask_id}, vocab_size={V}, p={p})"
        got_inputs, got_targets = call(fn, small, mask_id, V, p=p, call_text=small_text)
        expect_equal(small_text + ": the targets", got_targets, want_targets,
                     hint="p is the probability of choosing a position: p=0 chooses none, p=1 all")
        if p == 0.0:
            expect_equal(small_text + ": the inputs", got_inputs, small, hint="with p=0 nothing changes")
    passed("bert_mask chooses 15%, masks 80/10/10, leaves x alone and is reproducible")


def _loss_mistakes(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """What the common mistakes in the masked-LM loss compute, each with the hint that explains it."""
    keep = targets != -100  # (B, T)
    safe = targets.clamp(min=0)[..., None]  # (B, T, 1): -100 replaced by a valid index, then masked out

    def nll(log_probs: torch.Tensor) -> torch.Tensor:  # (B, T, V) -> (B, T), 0 where not masked
        return -log_probs.gather(-1, safe).squeeze(-1) * keep

    per_position = nll(logits.log_softmax(-1))
    rows = keep.sum(1)
    return {
        "this is a mean of per-row means: average over all masked positions of the batch at once":
            lambda: (per_position.sum(1)[rows > 0] / rows[rows > 0]).mean(),
        "this is a sum: divide by the number of masked positions": lambda: per_position.sum(),
        "this divides by every position: divide by the number of masked positions only":
            lambda: per_position.sum() / targets.numel(),
        "the log_softmax runs over the wrong axis: use dim=-1 (over the vocabulary)":
            lambda: nll(logits.log_softmax(1)).sum() / keep.sum(),
        "take log_softmax of the logits first: a raw logit is not a log-probability":
            lambda: nll(logits).sum() / keep.sum(),
        "the sign is wrong: the loss is the mean of -log p(target), a positive number":
            lambda: -per_position.sum() / keep.sum(),
        "this is -log of the mean probability: average the -log p over positions instead":
            lambda: -torch.log((per_position.neg().exp() * keep).sum() / keep.sum()),
    }


def check_masked_lm_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(logits, targets)` with logits (B, T, V) and targets (B, T), -100 where nothing was masked, returns the
    mean of -log p(target) over the masked positions of the batch (torch.tensor(0.0) if none is masked)."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for B, T, V, p in [(2, 8, 66, 0.15), (4, 16, 10, 0.5), (1, 5, 3, 1.0), (3, 1, 7, 1.0)]:
        logits = torch.randn(B, T, V, generator=g) * 3
        ids = torch.randint(V, (B, T), generator=g)
        chosen = torch.rand(B, T, generator=g) < p
        chosen[0, 0] = True  # at least one masked position
        cases.append((f"logits of shape {(B, T, V)}, targets with {int(chosen.sum())} masked", logits,
                      ids.masked_fill(~chosen, -100)))
    uneven = torch.full((2, 4), -100)
    uneven[0, 0], uneven[1, :] = 1, 2  # 1 masked position in row 0, 4 in row 1: a mean over 5, not over rows
    cases.append(("logits of shape (2, 4, 3), 1 masked position in row 0 and 4 in row 1",
                  torch.randn(2, 4, 3, generator=g) * 3, uneven))
    forbidden = loss_functions("use log_softmax over the vocabulary, gather the targets' log-probabilities at the "
                               "masked positions (targets != -100) and average the negatives")
    forbidden += forbid_helpers(__name__)
    for description, logits, targets in cases:
        text = f"{fn.__name__}({description})"
        got = call(fn, logits.clone().requires_grad_(), targets.clone(), call_text=text, forbidden=forbidden)
        want = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        expect_close(text, got, want, atol=1e-5, rtol=1e-5, mistakes=_loss_mistakes(logits, targets),
                     hint="-log_softmax(logits, dim=-1) at each target id, averaged over the masked positions")
        if not got.requires_grad:
            fail(text, "a loss that gradients can flow through", "a tensor detached from the logits",
                 "do not use .item(), .detach() or torch.tensor(...) on the result: the loss must be trainable")
    logits, nothing = torch.randn(2, 4, 3, generator=g), torch.full((2, 4), -100)
    text = f"{fn.__name__}(logits of shape (2, 4, 3), targets all -100)"
    got = call(fn, logits, nothing, call_text=text, forbidden=forbidden)
    if isinstance(got, torch.Tensor) and got.numel() == 1 and torch.isnan(got).item():
        fail(text, "0.0", "nan", "nothing masked: return torch.tensor(0.0), not the mean of an empty tensor (nan)")
    expect_close(text, got, 0.0, atol=0, rtol=0, hint="nothing masked: return torch.tensor(0.0)")
    passed("masked_lm_loss matches F.cross_entropy with ignore_index=-100")


def check_gpt_num_parameters(fn: Callable[..., int]) -> None:
    """`fn(vocab_size, block_size, n_layer, n_embd, pre_ln=True)` returns the parameter count of a GPT with biases,
    by formula: tied embeddings counted once, and a final LayerNorm only when pre_ln is True."""
    configs = [GPTConfig.from_name(name) for name in ("gpt1", "gpt2", "gpt2-medium", "gpt2-xl")]
    configs += [GPTConfig(vocab_size=66, block_size=16, n_layer=1, n_head=4, n_embd=96),
                GPTConfig(vocab_size=7, block_size=3, n_layer=5, n_head=2, n_embd=8, pre_ln=False, causal=False),
                GPTConfig(vocab_size=1, block_size=1, n_layer=1, n_head=1, n_embd=1)]
    forbidden = model_building("count by formula: the embeddings, per block two LayerNorms, c_attn, c_proj, c_fc and "
                               "c_proj with their biases, and ln_f for pre-LN") + forbid_helpers(__name__)
    for cfg in configs:
        V, block, L, C, pre_ln = cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_embd, cfg.pre_ln
        text = f"{fn.__name__}({V}, {block}, {L}, {C}, pre_ln={pre_ln})"
        got = call(fn, V, block, L, C, pre_ln=pre_ln, call_text=text, forbidden=forbidden)
        want = meta_model(GPTConfig(vocab_size=V, block_size=block, n_layer=L, n_head=cfg.n_head, n_embd=C,
                                    pre_ln=pre_ln)).num_parameters()
        final = 2 * C if pre_ln else 0
        expect_equal(text, got, want, mistakes={
            "the output layer is tied to the token embedding: count the vocab_size x n_embd matrix once":
                lambda: want + V * C,
            "post-LN models (pre_ln=False) have no final LayerNorm": lambda: want + 2 * C,
            "pre-LN models end with a final LayerNorm (gain and bias: 2 * n_embd)": lambda: want - 2 * C,
            "the position embeddings (block_size x n_embd) are missing": lambda: want - block * C,
            "each LayerNorm has a gain and a bias: 2 * n_embd parameters, not n_embd":
                lambda: want - L * 2 * C - final // 2,
            "the LayerNorms are missing: two per block (2 * n_embd each), plus the final one for pre-LN":
                lambda: want - L * 4 * C - final,
            "the biases of the four linear layers are missing: 3C + C + 4C + C = 9C per block":
                lambda: want - L * 9 * C,
            "the MLP is 4x wide: c_fc maps n_embd to 4 * n_embd, c_proj maps it back":
                lambda: want - L * (6 * C * C + 3 * C),
            "return an int": lambda: float(want),
        }, hint="per block: two LayerNorms (4C), c_attn (3C^2 + 3C), c_proj (C^2 + C), c_fc (4C^2 + 4C), "
                "c_proj (4C^2 + C); plus the embeddings and, for pre-LN, the final LayerNorm")
    passed("the formula counts every preset and three tiny models exactly")
