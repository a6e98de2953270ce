"""Checks for chapter 10's exercises: the bidirectional attention mask with padding, BERT's 80/10/10 masking,
the masked-LM loss by hand, and the measurement of how a bidirectional model cheats at next-token prediction."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

import gpt2lite.attention
import gpt2lite.training
from gpt2lite.attention import causal_mask
from gpt2lite.config import GPTConfig
from gpt2lite.model import GPT
from gpt2lite.data import get_batch

from ._core import (call, describe, expect_close, expect_equal, fail, forbid, forbid_helpers, loss_functions, passed,
                    seeded_model)


def check_padding_mask(fn: Callable[..., torch.Tensor]) -> None:
    """`fn(lengths, T, causal=False)` returns the (B, T, T) boolean mask of a padded batch, True where query i of
    sequence b may look at key j: key j is a real token (j < lengths[b]) and, with causal=True, j <= i too."""
    instead = ("build the mask from positions yourself: compare torch.arange(T) with lengths[:, None] for the keys "
               "(and key <= query positions for causal=True)")
    forbidden = forbid({gpt2lite.attention: "gpt2lite.attention", causal_mask: "gpt2lite.attention.causal_mask"},
                       instead) + forbid_helpers(__name__)
    cases = [([3, 5, 1], 5), ([4], 4), ([2, 2], 6), ([1, 7, 4, 6], 7), ([1], 1)]
    for causal in (False, True):
        for lengths, T in cases:
            lengths_t = torch.tensor(lengths)
            pos = torch.arange(T)
            real = pos[None, :] < lengths_t[:, None]  # (B, T): which positions hold a real token
            keys = real[:, None, :].expand(-1, T, -1)  # (B, T, T): the same real keys for every query
            queries = real[:, :, None].expand(-1, -1, T)
            future = (pos[None, :] <= pos[:, None])[None]  # (1, T, T): key j at or before query i
            past = future if causal else torch.ones(1, T, T, dtype=torch.bool)
            want = keys & past
            text = f"{fn.__name__}(torch.tensor({lengths}), {T}, causal={causal})"
            got = call(fn, lengths_t.clone(), T, causal=causal, call_text=text, forbidden=forbidden)
            mistakes = {
                "key j is a real token when j < lengths[b]: this keeps one pad key too many (<=, not <)":
                    lambda: (pos[None, None, :] <= lengths_t[:, None, None]).expand(-1, T, -1) & past,
                "this hides pad queries (rows), not pad keys (columns): every query must not see the pad keys":
                    lambda: queries & past,
                "this hides pad queries too: a pad query then sees no key at all, its softmax row is all -inf "
                "and gives nan. Hide the pad keys only; the outputs at pad positions are ignored anyway":
                    lambda: keys & queries & past,
                "True must mean 'may look': this is the inverse of the mask": lambda: ~want,
                "this is the causal mask even with causal=False: BERT's queries see the real keys on both sides":
                    lambda: keys & future,
                "with causal=True a query also may not see later keys: combine the padding with j <= i":
                    lambda: keys.clone(),
                "this is the padding of the keys alone, one row per sequence: repeat it for every query, "
                "shape (B, T, T)": lambda: real,
            }
            expect_equal(text, got, want, mistakes=mistakes,
                         hint="mask[b, i, j] is True when j < lengths[b]" + (" and j <= i" if causal else ""))
    passed("padding masks match for 5 batches, bidirectional and causal, with and without padding")


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


def _next_token_run(config: GPTConfig, data: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int, *,
                    same_init: bool = True, same_batches: bool = True, zero_grad: bool = True,
                    shifted: bool = True) -> tuple[list[float], list[float]]:
    """The check's own experiment (the switches reproduce the classic mistakes): a causal and a bidirectional copy
    of one seeded model, each trained with AdamW on next-token targets, on the same seeded batches."""
    if same_init:
        models = [seeded_model(config.replace(causal=causal), seed) for causal in (True, False)]
    else:  # seeded once, then both built: the second model gets the next random numbers
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            models = [GPT(config.replace(causal=causal)) for causal in (True, False)]
    curves = []
    shared = torch.Generator().manual_seed(seed)
    for model in models:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        batches = torch.Generator().manual_seed(seed) if same_batches else shared
        curve = []
        for _ in range(steps):
            x, y = get_batch(data, batch_size, config.block_size, batches)
            logits = model(x)
            loss = F.cross_entropy(logits.flatten(0, 1), (y if shifted else x).flatten())
            if zero_grad:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
        curves.append(curve)
    return curves[0], curves[1]


def check_next_token_cheat(fn: Callable[..., tuple[list[float], list[float]]]) -> None:
    """`fn(config, data, steps, batch_size=32, lr=1e-2, seed=0)` trains two fresh models, GPT(config) with
    causal=True and with causal=False, both built right after torch.manual_seed(seed), on next-token targets:
    torch.optim.AdamW(model.parameters(), lr=lr), one get_batch per step from a generator seeded with seed (the same
    batches for both). It returns (causal_losses, bidirectional_losses), each step's training loss.

    The check re-runs the experiment on random tokens, where nothing can be learned honestly, and compares the
    reader's curves with its own fresh run of the same settings."""
    V = 16
    data = torch.randint(V, (5000,), generator=torch.Generator().manual_seed(0))  # random tokens: no pattern
    config = GPTConfig(vocab_size=V, block_size=8, n_layer=1, n_head=2, n_embd=32)
    forbidden = forbid({gpt2lite.training.train: "gpt2lite.training.train"},
                       "write the loop yourself: AdamW, one get_batch per step, F.cross_entropy on the next tokens, "
                       "zero_grad, backward, step") + forbid_helpers(__name__)
    measured = None
    for steps, batch_size, lr, seed in [(40, 32, 1e-2, 0), (3, 4, 3e-2, 1)]:
        text = (f"{fn.__name__}(GPTConfig(vocab_size={V}, block_size=8, n_layer=1, n_head=2, n_embd=32), "
                f"5,000 random tokens, steps={steps}, batch_size={batch_size}, lr={lr}, seed={seed})")
        with torch.random.fork_rng(devices=[]):  # the reader's torch.manual_seed stays inside the check
            got = call(fn, config, data, steps, batch_size=batch_size, lr=lr, seed=seed, call_text=text,
                       forbidden=forbidden)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            fail(text, "a pair (causal_losses, bidirectional_losses)", describe(got),
                 "return the two loss curves: causal first, then bidirectional")
        want = _next_token_run(config, data, steps, batch_size, lr, seed)
        for name, curve, reference, i in [("causal", got[0], want[0], 0), ("bidirectional", got[1], want[1], 1)]:
            try:
                values = torch.tensor([float(v) for v in curve], dtype=torch.float64)
            except (TypeError, ValueError):
                fail(text, f"{name}_losses: a list of {steps} numbers", describe(curve),
                     "append loss.item() once per step")
            if len(values) != steps:
                fail(text, f"{name}_losses with {steps} values, one per step", f"{len(values)} values",
                     "append each step's loss: one value per optimizer step")
            mistakes = {
                "the bidirectional model starts from other weights: call torch.manual_seed(seed) right before "
                "building each model, so that both start alike":
                    lambda: _next_token_run(config, data, steps, batch_size, lr, seed, same_init=False)[i],
                "the second model sees other batches: seed a new generator with seed for each run (or draw one "
                "batch per step for both models)":
                    lambda: _next_token_run(config, data, steps, batch_size, lr, seed, same_batches=False)[i],
                "the gradients pile up from step to step: call optimizer.zero_grad() every step":
                    lambda: _next_token_run(config, data, steps, batch_size, lr, seed, zero_grad=False)[i],
                "the targets are the inputs themselves: a next-token model predicts y, the window shifted by one":
                    lambda: _next_token_run(config, data, steps, batch_size, lr, seed, shifted=False)[i],
            }
            expect_close(f"{text}: the {name} losses", values, torch.tensor(reference, dtype=torch.float64),
                         atol=1e-4, rtol=1e-4, mistakes={k: (lambda f=f: torch.tensor(f(), dtype=torch.float64))
                                                         for k, f in mistakes.items()},
                         hint="train as the exercise says: the same initial weights (torch.manual_seed(seed) before "
                              "each GPT), torch.optim.AdamW(model.parameters(), lr=lr), one get_batch per step "
                              "from torch.Generator().manual_seed(seed), the mean F.cross_entropy over all positions")
        if measured is None:
            measured = [float(v) for v in got[0]], [float(v) for v in got[1]]
    causal, bidirectional = measured
    passed(f"your run on random tokens reproduces: after {len(causal)} steps the causal model's loss is "
           f"{causal[-1]:.2f} nats (ln {V} = {torch.tensor(float(V)).log().item():.2f}, nothing to learn), the "
           f"bidirectional one's {bidirectional[-1]:.2f}: it reads the next token from its input")

