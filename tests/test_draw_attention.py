"""The attention drawings of chapter 4: they render, lay out cleanly for the book's inputs and others, show the
real numbers and shapes, and reject bad input with a helpful message."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt2lite import GPTConfig, draw

KEYS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
VALUES = torch.eye(3)
QUERY = torch.tensor([2.0, 0.0])
FOLDERS = ["fruit", "vehicles", "fruit and vehicles"]
GPT2 = GPTConfig.from_name("gpt2")
TEXT = "To be, or not to be, that is"


def causal_weights(T: int, seed: int = 0, heads: int | None = None) -> torch.Tensor:
    """Softmax weights of a causal head (or ``heads`` of them) on random scores."""
    g = torch.Generator().manual_seed(seed)
    shape = (T, T) if heads is None else (heads, T, T)
    scores = torch.randn(*shape, generator=g) * 2
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def assert_clean(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.problems() == []
    assert d.width <= 560
    assert len(d.alt.split()) >= 8


# -- the filing cabinet ---------------------------------------------------------------------------------------
def test_filing_cabinet_shows_the_chapters_numbers():
    d = draw.filing_cabinet(QUERY, KEYS, VALUES, FOLDERS)
    assert_clean(d)
    labels = d.labels()
    # scores q·k = 2, 0, 1.4; softmax weights 0.59, 0.08, 0.33; the answer is the blend
    for s in ["2.00", "0.00", "1.40", "0.59", "0.08", "0.33", "[0.59, 0.08, 0.33]", "query q = [2, 0]",
              "[1, 0]", "[0.7, 0.7]", "[0, 0, 1]", "fruit and vehicles"]:
        assert s in labels, s
    assert "0.59" in d.alt and "'fruit'" in d.alt


def test_filing_cabinet_scales_by_root_d_and_caps_the_rows():
    g = torch.Generator().manual_seed(3)
    q, k, v = torch.randn(16, generator=g), torch.randn(12, 16, generator=g), torch.randn(12, 8, generator=g)
    d = draw.filing_cabinet(q, k, v, [f" tok{i}" for i in range(12)], scale=True)
    assert_clean(d)
    scores = k @ q / math.sqrt(16)
    assert f"{float(scores[0]):.2f}" in d.labels() and "q·k/√d" in d.labels()
    weights = torch.softmax(scores, 0)
    assert any(s.startswith("… 4 more folders") for s in d.labels())
    assert f"{float(weights[8:].sum()):.2f}" in next(s for s in d.labels() if s.startswith("… 4 more"))


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 10), dim=st.integers(1, 9), dv=st.integers(1, 7), seed=st.integers(0, 99),
       long=st.booleans())
def test_filing_cabinet_lays_out_any_cabinet(n, dim, dv, seed, long):
    g = torch.Generator().manual_seed(seed)
    labels = [("a very long folder name " if long else "f") + str(i) for i in range(n)]
    d = draw.filing_cabinet(torch.randn(dim, generator=g) * 3, torch.randn(n, dim, generator=g),
                            torch.randn(n, dv, generator=g) * 10, labels)
    assert_clean(d)


@pytest.mark.parametrize("args, message", [
    ((torch.zeros(3), torch.zeros(3, 2), torch.zeros(3, 3)), "keys have 2 entries per row but the query has 3"),
    ((QUERY, KEYS, torch.zeros(2, 3)), "3 keys but 2 values"),
    ((QUERY[None], KEYS, VALUES), r"one query vector of shape \(d,\)"),
    ((QUERY, KEYS[0], VALUES), r"shape \(n, d\)"),
    ((torch.tensor([float("nan"), 0.0]), KEYS, VALUES), "inf or nan"),
])
def test_filing_cabinet_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        draw.filing_cabinet(*args)


@pytest.mark.parametrize("args", [("query", KEYS, VALUES), (QUERY, None, VALUES), (QUERY, KEYS, [["a"] * 3] * 3)])
def test_filing_cabinet_refuses_what_is_no_tensor_with_a_type_error(args):
    with pytest.raises(TypeError, match="must be"):
        draw.filing_cabinet(*args)


def test_filing_cabinet_needs_one_label_per_folder():
    with pytest.raises(ValueError, match="2 labels for 3 folders"):
        draw.filing_cabinet(QUERY, KEYS, VALUES, ["a", "b"])
    with pytest.raises(ValueError, match="non-empty string"):
        draw.filing_cabinet(QUERY, KEYS, VALUES, ["a", "", "c"])


# -- the causal mask ------------------------------------------------------------------------------------------
def test_causal_mask_puts_the_tokens_on_both_axes():
    tokens = ["GPT", " predicts", " the", " next", " token"]
    d = draw.causal_mask(tokens)
    assert_clean(d)
    assert d.labels().count("␣predicts") == 2  # a row and a column
    assert "10 cells above the diagonal" in d.alt


def test_causal_mask_prints_the_real_weights_in_the_allowed_cells():
    w = causal_weights(6)
    d = draw.causal_mask(list(TEXT[:6]), w)
    assert_clean(d)
    numbers = [s for s in d.labels() if s[:2] in ("0.", "1.")]
    assert len(numbers) == 6 * 7 // 2  # the lower triangle only: the future prints nothing
    assert numbers[:3] == ["1.00", f"{float(w[1, 0]):.2f}", f"{float(w[1, 1]):.2f}"]


@settings(max_examples=6, deadline=None)
@given(T=st.integers(1, 24), word=st.booleans(), weighted=st.booleans())
def test_causal_mask_lays_out_any_text(T, word, weighted):
    tokens = [(" word" + str(i)) if word else chr(97 + i % 26) for i in range(T)]
    d = draw.causal_mask(tokens, causal_weights(T, T) if weighted else None)
    assert_clean(d)
    if T > 16:
        assert f"the first 16 of {T} tokens" in d.labels()


def test_causal_mask_rejects_bad_input():
    with pytest.raises(TypeError, match="not one string"):
        draw.causal_mask("To be")
    with pytest.raises(TypeError, match=r"tokens\[1\] is 2"):
        draw.causal_mask(["a", 2])
    with pytest.raises(ValueError, match="empty"):
        draw.causal_mask([])
    with pytest.raises(ValueError, match=r"pass a \(3, 3\) tensor"):
        draw.causal_mask(["a", "b", "c"], causal_weights(4))
    with pytest.raises(ValueError, match="future tokens"):
        draw.causal_mask(["a", "b"], torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="not raw scores"):
        draw.causal_mask(["a", "b"], torch.tensor([[3.0, 0.0], [1.0, -2.0]]))


# -- the pipeline ---------------------------------------------------------------------------------------------
def test_attention_pipeline_shows_the_real_shapes():
    d = draw.attention_pipeline(GPT2, T=1024)
    assert_clean(d)
    labels = d.labels()
    assert labels.count("(1, 12, 1024, 1024)") == 4  # scores, scaled, masked, weights
    assert labels.count("(1, 12, 1024, 64)") == 5  # q, k, v, the blend, the output
    assert "÷ √64 = ÷ 8" in labels and "mask: future → −∞" in labels


def test_attention_pipeline_follows_the_config():
    small = GPTConfig(n_embd=8, n_head=2, block_size=16)
    d = draw.attention_pipeline(small, T=5, B=2)
    assert_clean(d)
    assert "(2, 2, 5, 5)" in d.labels() and "÷ √4 = ÷ 2" in d.labels()
    bert = draw.attention_pipeline(small.replace(causal=False), T=5)
    assert_clean(bert)
    assert "mask: future → −∞" not in bert.labels()  # a bidirectional config has no mask stage
    odd = draw.attention_pipeline(GPTConfig(n_embd=48, n_head=1), T=3)
    assert "÷ √48 = ÷ 6.93" in odd.labels()


@pytest.mark.parametrize("name", ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt1"])
def test_attention_pipeline_and_split_heads_lay_out_every_preset(name):
    cfg = GPTConfig.from_name(name)
    assert_clean(draw.attention_pipeline(cfg, T=cfg.block_size, B=8))
    assert_clean(draw.split_heads(cfg, T=7))


def test_attention_pipeline_rejects_bad_input():
    with pytest.raises(TypeError, match="pass a GPTConfig"):
        draw.attention_pipeline({"n_embd": 768}, T=4)
    with pytest.raises(ValueError, match="T must be a positive integer"):
        draw.attention_pipeline(GPT2, T=0)
    with pytest.raises(ValueError, match="block_size"):
        draw.attention_pipeline(GPT2, T=2048)
    with pytest.raises(TypeError, match="B must be an integer, got float 1.5"):
        draw.attention_pipeline(GPT2, T=4, B=1.5)
    with pytest.raises(ValueError, match="B must be a positive integer"):
        draw.attention_pipeline(GPT2, T=4, B=0)


# -- splitting heads ------------------------------------------------------------------------------------------
def test_split_heads_draws_the_reshapes_with_the_real_sizes():
    d = draw.split_heads(GPT2, T=4)
    assert_clean(d)
    labels = d.labels()
    for shape in ["(B, T, C) = (1, 4, 768)", "(B, T, nh, hs) = (1, 4, 12, 64)", "(B, nh, T, hs) = (1, 12, 4, 64)"]:
        assert shape in labels
    assert "q.view(B, T, 12, 64)" in labels and "y.transpose(1, 2).contiguous().view(B, T, 768)" in labels
    assert [s for s in labels if s.startswith("h") and s[1:].isdigit()] == [f"h{g}" for g in range(12)] * 2


@settings(max_examples=6, deadline=None)
@given(n_head=st.sampled_from([1, 2, 3, 4, 6, 8, 12, 16, 25, 32]), hs=st.sampled_from([1, 4, 16, 64, 128]),
       T=st.integers(1, 40), B=st.integers(1, 64))
def test_split_heads_lays_out_any_config(n_head, hs, T, B):
    d = draw.split_heads(GPTConfig(n_embd=n_head * hs, n_head=n_head, block_size=64), T=T, B=B)
    assert_clean(d)
    heads = [s for s in d.labels() if s.startswith("h")]
    assert heads[0] in ("head 0", "h0") and heads[-1] in (f"head {n_head - 1}", f"h{n_head - 1}", "head h holds "
                                                          f"channels {hs}·h to {hs}·h + {hs - 1}")


def test_split_heads_rejects_bad_input():
    with pytest.raises(TypeError, match="pass a GPTConfig"):
        draw.split_heads(768, T=4)
    with pytest.raises(TypeError, match="T must be an integer, got str '4'"):
        draw.split_heads(GPT2, T="4")


# -- attention lines ------------------------------------------------------------------------------------------
def test_attention_lines_draw_one_line_per_weight_above_the_threshold():
    tokens = ["The", " cat", " sat", " on", " the", " mat"]
    w = causal_weights(6, seed=2)
    d = draw.attention_lines(w, tokens)
    assert_clean(d)
    strong = int((torch.round(w * 100) / 100 >= 0.1).sum())
    assert len(d.ax.lines) == strong
    widths = sorted(round(ln.get_linewidth(), 2) for ln in d.ax.lines)
    assert widths[-1] == round(0.3 + 4.5 * round(float(w.max()), 2), 2)  # thickness = the rounded weight
    assert d.labels().count("␣cat") == 2


def test_attention_lines_draw_a_panel_per_head_and_cap_long_texts():
    w = causal_weights(len(TEXT), heads=2)
    d = draw.attention_lines(w, list(TEXT), ["layer 0, head 3", "layer 1, head 2"])
    assert_clean(d)
    assert "layer 0, head 3" in d.labels() and "layer 1, head 2" in d.labels()
    long_text = "Now is the winter of our discontent made glorious summer by this sun of York"
    d = draw.attention_lines(causal_weights(len(long_text)), list(long_text))
    assert_clean(d)
    assert any(s.startswith("the first ") and s.endswith(f" of {len(long_text)} tokens") for s in d.labels())


@settings(max_examples=6, deadline=None)
@given(T=st.integers(1, 40), heads=st.integers(1, 3), word=st.booleans(), seed=st.integers(0, 50))
def test_attention_lines_lay_out_any_text(T, heads, word, seed):
    tokens = [(" w" + str(i)) if word else chr(65 + i % 26) for i in range(T)]
    d = draw.attention_lines(causal_weights(T, seed, heads if heads > 1 else None), tokens)
    assert_clean(d)


def test_attention_lines_reject_bad_input():
    with pytest.raises(ValueError, match=r"pass \(3, 3\) or \(H, 3, 3\)"):
        draw.attention_lines(causal_weights(4), ["a", "b", "c"])
    with pytest.raises(ValueError, match="at most 4"):
        draw.attention_lines(causal_weights(3, heads=5), ["a", "b", "c"])
    with pytest.raises(ValueError, match="not raw scores"):
        draw.attention_lines(torch.randn(3, 3) * 5, ["a", "b", "c"])
    with pytest.raises(ValueError, match="1 names for 2 heads"):
        draw.attention_lines(causal_weights(3, heads=2), ["a", "b", "c"], ["x"])
    with pytest.raises(ValueError, match="min_weight"):
        draw.attention_lines(causal_weights(3), ["a", "b", "c"], min_weight=0)


def test_the_drawings_are_exported_and_the_same_every_time():
    for name in ["filing_cabinet", "causal_mask", "attention_pipeline", "split_heads", "attention_lines"]:
        assert name in draw.__all__
    a = draw.attention_lines(causal_weights(8), list("abcdefgh")).svg()
    assert a == draw.attention_lines(causal_weights(8), list("abcdefgh")).svg()
