"""Properties that must hold for any input, checked with hypothesis on random tokenizers, models and settings.

What the other test files already check on fixed examples (test_tokenizer.py: round trips, tiktoken parity; test_generate.py:
one model, one prompt) is generalised here: to tokenizers trained on arbitrary text, and to random small model shapes,
prompt lengths (longer than the context included) and sampling settings.
"""

import tempfile
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt2lite import GPT, BPETokenizer, GPTConfig

EOT = "<|endoftext|>"


# ---------------------------------------------------------------------------------------- tokenizer save/load
# Training text with few distinct characters (so that pairs repeat and merges happen), plus arbitrary text (so that
# merges of odd bytes happen too: multi-byte characters, controls, surrogates).
repetitive_text = st.text(alphabet=st.sampled_from("ab c\n'é😀"), min_size=20, max_size=300)
probe_text = st.lists(st.one_of(st.text(max_size=40), st.just(EOT)), max_size=6).map("".join)


@settings(max_examples=40, deadline=None)
@given(
    training=st.tuples(repetitive_text, st.text(max_size=100)).map("".join),
    vocab_size=st.integers(256, 320),
    probes=st.lists(probe_text, min_size=1, max_size=5),
)
def test_a_trained_tokenizer_encodes_the_same_after_save_and_load(training, vocab_size, probes):
    tok = BPETokenizer()
    tok.train(training, vocab_size)
    tok.register_special_tokens({EOT: tok.vocab_size})
    with tempfile.TemporaryDirectory() as folder:
        tok.save(Path(folder) / "tok.json")
        loaded = BPETokenizer.load(Path(folder) / "tok.json")
    assert list(loaded.merges.items()) == list(tok.merges.items())
    assert loaded.vocab == tok.vocab and loaded.special_tokens == tok.special_tokens
    for text in probes:
        assert loaded.encode(text) == tok.encode(text)
        ids = loaded.encode(text, allowed_special="all")
        assert ids == tok.encode(text, allowed_special="all")
        assert loaded.decode(ids) == tok.decode(ids)


# ------------------------------------------------------------------------------------------- generation
@st.composite
def small_models(draw, vocab_size=st.integers(1, 64)) -> GPT:
    """A random small GPT, its weights scaled up 4x: sharper predictions than GPT-2's init (std 0.02) gives, so
    that greedy decoding is decisive and a wrong cache or position changes the tokens."""
    n_head = draw(st.integers(1, 2))
    config = GPTConfig(
        vocab_size=draw(vocab_size),
        block_size=draw(st.integers(4, 12)),
        n_layer=draw(st.integers(1, 2)),
        n_head=n_head,
        n_embd=n_head * draw(st.integers(2, 8)),  # head_dim 2..8
        attn_impl=draw(st.sampled_from(["sdpa", "explicit"])),
    )
    torch.manual_seed(draw(st.integers(0, 2**16)))
    model = GPT(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4)
    return model


@st.composite
def prompts(draw, model: GPT) -> torch.Tensor:
    """1 or 2 sequences of 1 to 2 x block_size tokens: the longest ones overflow the context."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2 * model.config.block_size)))
    seed = draw(st.integers(0, 2**16))
    return torch.randint(0, model.config.vocab_size, shape, generator=torch.Generator().manual_seed(seed))


temperatures = st.one_of(
    st.just(0.0),  # greedy
    st.floats(0.05, 5.0),
    st.sampled_from([1e-30, 1e-40]),  # so small that logits / temperature overflows float32
)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    model=small_models(),
    temperature=temperatures,
    top_k=st.one_of(st.none(), st.integers(1, 70)),
    top_p=st.one_of(st.none(), st.floats(1e-3, 1.0)),
    use_cache=st.booleans(),
    max_new_tokens=st.integers(0, 30),
)
def test_generation_never_leaves_the_vocabulary(data, model, temperature, top_k, top_p, use_cache, max_new_tokens):
    idx = data.draw(prompts(model))
    out = model.generate(
        idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p, use_cache=use_cache,
        generator=torch.Generator().manual_seed(0),
    )
    assert out.shape == (idx.size(0), idx.size(1) + max_new_tokens) and out.dtype == idx.dtype
    assert torch.equal(out[:, : idx.size(1)], idx)
    assert 0 <= out.min() and out.max() < model.config.vocab_size


@settings(max_examples=60, deadline=None)
@given(data=st.data(), model=small_models(vocab_size=st.integers(2, 64)), max_new_tokens=st.integers(1, 24))
def test_kv_cache_and_uncached_greedy_generation_agree(data, model, max_new_tokens):
    """The same tokens with and without the KV cache, before and after the sequence outgrows the context.

    The two paths compute the same logits in a different order (one row at a time against a whole window), so they
    agree to float rounding, not bit for bit. Where two candidate tokens' logits are closer than that rounding, the
    paths may pick different ones, and from there on the sequences differ legitimately. So: the tokens must be equal,
    or the first difference must be such a near tie in the uncached logits (the reference). A wrong cache, position or
    mask changes logits by far more than the tolerance, and fails.
    """
    idx = data.draw(prompts(model))
    cached = model.generate(idx, max_new_tokens, temperature=0, use_cache=True)
    uncached = model.generate(idx, max_new_tokens, temperature=0, use_cache=False)
    if torch.equal(cached, uncached):
        return
    differs = (cached != uncached).any(dim=0).nonzero()
    col = int(differs[0])  # the first step where some row differs; before it, every row agrees
    row = int((cached[:, col] != uncached[:, col]).nonzero()[0])
    with torch.no_grad():
        logits = model(uncached[row : row + 1, :col][:, -model.config.block_size :])[0, -1]
    gap = (logits[uncached[row, col]] - logits[cached[row, col]]).item()
    assert gap <= 1e-4 * max(1.0, logits.abs().max().item()), f"not a near tie: logits differ by {gap} at step {col}"
