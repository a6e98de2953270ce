"""Chapter 8's drawings: generation frames, the KV cache, top-k and top-p, the sliding window."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt2lite import GPT, GPTConfig, draw

CHARS = sorted(set("A robot may not injure a human being\nROMEO:,.!?") | set("bcdefhklpqsvwxz"))


class _Chars:
    """A character tokenizer over CHARS, as the chapter's Tiny Shakespeare one."""

    def encode(self, s):
        return [CHARS.index(c) for c in s]

    def decode(self, ids):
        return "".join(CHARS[i] for i in ids)


TOK = _Chars()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=len(CHARS), block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()


def _ok(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.problems() == []
    assert d.alt and d.width <= 560


def test_record_frames_follow_the_real_loop(model):
    ids = TOK.encode("A robot may not injure a human being")
    frames = draw.record_frames(model, ids, 5, TOK, temperature=0)
    out = model.generate(torch.tensor([ids]), 5, temperature=0)[0].tolist()
    assert [f.next_id for f in frames] == out[len(ids):]
    assert [len(f.ids) for f in frames] == [36, 37, 38, 39, 40]
    assert all(f.fed == 32 for f in frames)  # 36 characters > the context of 32
    assert all(f.cached == 0 and f.new == 32 for f in frames)  # past the context the cache is refilled
    short = draw.record_frames(model, TOK.encode("ROMEO:\n"), 4, TOK, temperature=0)
    assert [(f.cached, f.new) for f in short] == [(0, 7), (7, 1), (8, 1), (9, 1)]
    with torch.no_grad():
        logits = model(torch.tensor([ids[-32:]]))[0, -1]
    assert frames[0].prob == pytest.approx(float(torch.softmax(logits, -1).max()), abs=1e-4)


def test_generation_frames_draws_one_row_per_step(model):
    ids = TOK.encode("A robot may not injure a human being")
    frames = draw.record_frames(model, ids, 5, TOK, temperature=0)
    d = draw.generation_frames(frames)
    _ok(d)
    labels = d.labels()
    assert [str(i) for i in range(1, 6)] == [s for s in labels if s.isdigit()][:5]
    assert f"{frames[0].prob:.2f}" in labels and "the model reads the last 32" in labels
    assert labels.count("b") >= 5 * 2  # 'robot' and 'being' in every row
    short = draw.generation_frames(draw.record_frames(model, TOK.encode("ROMEO:\n"), 3, TOK, temperature=0))
    _ok(short)
    assert sum(s.isdigit() for s in short.labels()) == 3
    capped = draw.generation_frames(draw.record_frames(model, ids, 12, TOK, temperature=0), max_frames=4)
    _ok(capped)
    assert "8 more steps not drawn" in capped.labels()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=CHARS, min_size=1, max_size=70), n=st.integers(1, 10), seed=st.integers(0, 5))
def test_frames_and_cache_lay_out_cleanly_for_any_prompt(model, text, n, seed):
    frames = draw.record_frames(model, TOK.encode(text), n, TOK, generator=torch.Generator().manual_seed(seed))
    _ok(draw.generation_frames(frames))
    _ok(draw.kv_cache(frames))


def test_kv_cache_rows_follow_the_cache(model):
    frames = draw.record_frames(model, TOK.encode("ROMEO:\n"), 28, TOK, temperature=0)
    d = draw.kv_cache(frames)
    _ok(d)
    labels = d.labels()
    assert "7 new" in labels and "1 new, 7 cached" in labels and "1 new, 31 cached" in labels
    assert labels.count("32 new: refilled") == 2 and "⋮" in labels
    few = draw.kv_cache(frames[:4])
    _ok(few)
    assert "⋮" not in few.labels() and "1 new, 9 cached" in few.labels()


def test_kv_cache_of_a_long_context():
    f = draw.GenerationFrame(ids=tuple(range(600)), pieces=("x",) * 600, fed=600, cached=599, new=1, next_id=1,
                             next_piece="y", prob=0.5, context=1024)
    _ok(draw.kv_cache([f]))


def _distribution(v=65, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(v, generator=g) * 2, -1)


def test_top_k_top_p_cuts_where_filter_logits_cuts():
    from gpt2lite.generate import filter_logits

    probs = _distribution()
    labels = [f"{chr(97 + i % 26)}" for i in range(65)]
    d = draw.top_k_top_p(probs, 5, 0.9, labels)
    _ok(d)
    n_p = int((filter_logits(probs.log()[None], top_p=0.9) > float("-inf")).sum())
    assert "top-k, k = 5: 5 tokens kept, renormalised" in d.labels()
    assert f"top-p, p = 0.9: {n_p} tokens kept, renormalised" in d.labels()
    top = probs.max().item()
    assert f"{top:.2f}".lstrip("0") in d.labels()
    assert f"{top / probs.topk(5).values.sum().item():.2f}".lstrip("0") in d.labels()  # renormalised


@settings(max_examples=10, deadline=None)
@given(v=st.integers(2, 300), k=st.integers(1, 300), p=st.floats(0.01, 1.0), seed=st.integers(0, 99),
       temp=st.floats(0.1, 6.0))
def test_top_k_top_p_lays_out_cleanly(v, k, p, seed, temp):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(v, generator=g) * temp, -1)
    labels = [["a", "\n", " the", "xyzzy", "Q"][i % 5] for i in range(v)]
    _ok(draw.top_k_top_p(probs, min(k, v), round(p, 3), labels))


@pytest.mark.parametrize("n,block", [(35, 32), (67, 32), (2000, 1024), (5, 32), (1, 1), (33, 32), (500, 8)])
def test_sliding_window(n, block):
    d = draw.sliding_window(n, block)
    _ok(d)
    fed = min(n, block)
    assert f"fed: the last {fed}, at positions 0 to {fed - 1}" in d.labels()
    if n > block:
        assert f"{n} tokens: {n - block} not fed" in d.labels()
    else:
        assert f"{n} tokens: all fed" in d.labels()


def test_bad_input_says_what_to_pass(model):
    with pytest.raises(ValueError, match="frames is empty.*record_frames"):
        draw.generation_frames([])
    frames = draw.record_frames(model, TOK.encode("ROMEO:\n"), 3, TOK, temperature=0)
    with pytest.raises(ValueError, match="does not continue"):
        draw.generation_frames([frames[0], frames[2]])
    with pytest.raises(TypeError, match="not a GenerationFrame"):
        draw.kv_cache([(1, 2)])
    with pytest.raises(ValueError, match="ids is empty"):
        draw.record_frames(model, [], 3, TOK)
    with pytest.raises(ValueError, match="n must be a positive"):
        draw.record_frames(model, [1], 0, TOK)
    with pytest.raises(ValueError, match="not the logits"):
        draw.top_k_top_p(torch.randn(10), 3, 0.9, list("abcdefghij"))
    with pytest.raises(ValueError, match="one label per token"):
        draw.top_k_top_p(_distribution(10), 3, 0.9, list("abc"))
    with pytest.raises(ValueError, match="k must be an integer from 1 to 10"):
        draw.top_k_top_p(_distribution(10), 0, 0.9, list("abcdefghij"))
    with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\]"):
        draw.top_k_top_p(_distribution(10), 3, 1.5, list("abcdefghij"))
    with pytest.raises(ValueError, match="shape"):
        draw.top_k_top_p(torch.ones(2, 3) / 3, 3, 0.9, list("abc"))
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        draw.sliding_window(10, 0)


P10, L10 = _distribution(10), list("abcdefghij")


@pytest.mark.parametrize("call, message", [
    (lambda m: draw.record_frames(m, [1], 2.0, TOK), "n must be an integer, got float"),
    (lambda m: draw.record_frames(m, [1.5], 2, TOK), r"ids\[0\] must be an integer, got float"),
    (lambda m: draw.record_frames(m, "ROMEO", 2, TOK), "ids must be the prompt's token ids"),
    (lambda m: draw.record_frames(m, [1], 2, "tok"), "decode"),
    (lambda m: draw.generation_frames([], max_frames=1.0), "frames is empty"),  # the frames first: a ValueError
    (lambda m: draw.top_k_top_p("probs", 3, 0.9, L10), "probs must be one distribution"),
    (lambda m: draw.top_k_top_p(P10, 3.0, 0.9, L10), "k must be an integer, got float"),
    (lambda m: draw.top_k_top_p(P10, True, 0.9, L10), "k must be an integer, got bool"),
    (lambda m: draw.top_k_top_p(P10, 3, "0.9", L10), "p must be a number, got str"),
    (lambda m: draw.top_k_top_p(P10, 3, 0.9, L10, max_bars=4.5), "max_bars must be an integer"),
    (lambda m: draw.sliding_window(10.0, 4), "n_tokens must be an integer"),
    (lambda m: draw.sliding_window(10, 4, steps="3"), "steps must be an integer"),
])
def test_a_wrong_type_is_a_type_error(model, call, message):
    error = ValueError if "frames is empty" in message else TypeError
    with pytest.raises(error, match=message):
        call(model)


def test_numpy_numbers_are_taken_as_python_ones(model):
    frames = draw.record_frames(model, np.array(TOK.encode("RO")), np.int64(2), TOK, temperature=0)
    assert frames == draw.record_frames(model, TOK.encode("RO"), 2, TOK, temperature=0)
    assert (draw.generation_frames(frames, max_frames=np.int64(1)).labels()
            == draw.generation_frames(frames, max_frames=1).labels())
    assert draw.kv_cache(frames, max_rows=np.int64(3)).labels() == draw.kv_cache(frames, max_rows=3).labels()
    a = draw.top_k_top_p(P10, np.int64(3), np.float64(0.9), L10, max_bars=np.int32(8))
    assert a.labels() == draw.top_k_top_p(P10, 3, 0.9, L10, max_bars=8).labels()
    assert draw.sliding_window(np.int64(10), np.int64(4)).labels() == draw.sliding_window(10, 4).labels()
