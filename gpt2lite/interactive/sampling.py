"""The sampling explorer (chapter 8): a trained character model's next-token distribution after a few prompts,
reshaped in the page by temperature, top-k and top-p sliders.

The chapter computes the logits here, in Python, with the real model; the page only redoes what
``gpt2lite.generate.sample_next`` does to them (divide by the temperature, ``filter_logits``, softmax), so the
bars it draws are the package's probabilities (tests/test_browser_sampling.py compares them to 1e-6).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import draw
from ..model import GPT
from .figure import Interactive, rounded

__all__ = ["sampling_explorer"]


def _check_model_and_tokenizer(model, tokenizer) -> list[str]:
    """The tokenizer's characters, after checking that model and tokenizer belong together."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a gpt2lite GPT, got {type(model).__name__}")
    chars = getattr(tokenizer, "chars", None)
    if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise TypeError(
            f"tokenizer must be a character tokenizer with a .chars list (gpt2lite.data.CharTokenizer), "
            f"got {type(tokenizer).__name__}: the figure labels every token by its character"
        )
    if len(chars) != model.config.vocab_size:
        raise ValueError(
            f"the tokenizer has {len(chars)} characters but the model predicts {model.config.vocab_size} tokens: "
            "pass the tokenizer the model was trained with"
        )
    return chars


def _check_prompts(prompts, chars: list[str], *, most: int = 8) -> list[str]:
    """The prompts as a list, each non-empty and made of the tokenizer's characters only."""
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of strings, got {type(prompts).__name__}; e.g. ['ROMEO:\\n']")
    prompts = list(prompts)
    if not 1 <= len(prompts) <= most:
        raise ValueError(f"pass 1 to {most} prompts (the page offers them in a menu), got {len(prompts)}")
    known = set(chars)
    for n, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise TypeError(f"prompt {n} must be a string, got {type(prompt).__name__}")
        if not prompt:
            raise ValueError(f"prompt {n} is empty: the model needs at least one character to continue")
        unknown = next((c for c in prompt if c not in known), None)
        if unknown is not None:
            raise ValueError(
                f"prompt {n} ({prompt!r}) has the character {unknown!r} (U+{ord(unknown):04X}), which is not among "
                f"the model's {len(chars)} characters: remove it or pick another prompt"
            )
    if len(set(prompts)) != len(prompts):
        raise ValueError("prompts must be distinct: each one is an entry of the page's menu")
    return prompts


@torch.no_grad()
def _last_logits(model: GPT, ids: list[int]) -> torch.Tensor:
    """float32 logits (V,) for the token after ids, cropped to the context as ``generate`` does."""
    was_training = model.training
    model.eval()
    try:
        weight = model.transformer.wte.weight
        x = torch.tensor([ids[-model.config.block_size:]], device=weight.device)  # (1, T)
        return model(x, last_only=True)[0, -1].float().cpu()  # (V,)
    finally:
        model.train(was_training)


def sampling_explorer(model: GPT, tokenizer, prompts: Sequence[str], *, name: str = "sampling-explorer") -> Interactive:
    """Temperature, top-k and top-p sliders over ``model``'s next-character distribution after each prompt.

    ``tokenizer`` is the model's character tokenizer (its ``chars`` label the bars); ``prompts`` are 1 to 8
    distinct texts of its characters. The data holds each prompt's 65 (vocab_size) logits, in float32 and
    rounded to 9 significant digits (which give back the same float32), and the labels; the still picture is
    the top-k and top-p cuts on the first prompt (k = 5, p = 0.9).
    """
    chars = _check_model_and_tokenizer(model, tokenizer)
    prompts = _check_prompts(prompts, chars)
    logits = [_last_logits(model, tokenizer.encode(p)) for p in prompts]
    data = {
        "labels": chars,
        "block_size": model.config.block_size,
        "prompts": [{"text": p, "logits": rounded(z)} for p, z in zip(prompts, logits)],
    }
    still = draw.top_k_top_p(torch.softmax(logits[0].double(), dim=-1), 5, 0.9, chars)
    return Interactive(
        "sampling", data, still=still, name=name,
        alt=f"Bars of the model's probability for each next character after {prompts[0]!r}, sorted, with "
            "the characters that top-k and top-p cut shown apart from the ones they keep",
        caption="Pick a prompt and move the sliders: the bars are the model's next-character probabilities "
                "after dividing the logits by the temperature and cutting with top-k and top-p, as "
                "gpt2lite's sampler does.",
    )
