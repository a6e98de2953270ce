"""Chapter 7's drawings: the training step, input and target windows, a batch of random windows."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt2lite import GPT, GPTConfig, draw
from gpt2lite.data import CharTokenizer, get_batch, load_shakespeare
from gpt2lite.draw import piece_label
from gpt2lite.tokenizer import BPETokenizer
from gpt2lite.training import TrainConfig, lr_at

FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def shakespeare():
    train_ids, val_ids, tok = load_shakespeare("char")
    return train_ids, val_ids, tok


@pytest.fixture(scope="module")
def chapter_model(shakespeare):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=shakespeare[2].vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128))


# The chapter's configuration of its training run.
CHAPTER_CFG = dict(max_steps=1000, batch_size=16, block_size=64, learning_rate=3e-3, min_lr=3e-4,
                   warmup_steps=50, betas=(0.9, 0.99), eval_interval=200, eval_iters=10, device="cpu",
                   progress=False)


def renders_cleanly(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.problems() == []
    assert d.alt and d.width <= 560


def rows_of_labels(d):
    """The labels grouped into rows by their vertical centre, each row left to right."""
    rows = {}
    for label, (x0, y0, x1, y1) in d.text_boxes():
        rows.setdefault(round((y0 + y1) / 2), []).append((x0, label))
    return [[label for _, label in sorted(row)] for _, row in sorted(rows.items())]


# ------------------------------------------------------------------------------------------ the training step
def test_training_step_shows_the_chapters_settings(chapter_model):
    cfg = TrainConfig(**CHAPTER_CFG)
    d = draw.training_step(cfg, chapter_model)
    renders_cleanly(d)
    labels = d.labels()
    for expected in ["batch", "forward", "loss", "backward", "clip", "AdamW", "lr schedule",
                     "16 windows", "of 64 tokens", "(16, 64, 65)", f"{chapter_model.num_parameters():,} grads",
                     "1,024 targets", "\u2264 1.0", "betas (0.9, 0.99)", "weight decay 0.1",
                     "50 warmup steps to 3e-3", "then cosine to 3e-4", "\u00d7 1,000 steps"]:
        assert expected in labels, expected
    assert not any("micro-batches" in s for s in labels)  # grad_accum_steps is 1
    assert "16 windows of 64 tokens" in d.alt and "1,000 times" in d.alt


def test_training_step_draws_the_real_schedule():
    cfg = TrainConfig(max_steps=200, warmup_steps=40, learning_rate=1e-3, min_lr=1e-5, block_size=8)
    d = draw.training_step(cfg)
    baseline, curve = sorted(d.ax.lines, key=lambda line: len(line.get_xdata()))  # zero, and lr_at
    zero = baseline.get_ydata()[0]
    xs, ys = list(curve.get_xdata()), list(curve.get_ydata())
    top = xs[ys.index(min(ys))]  # y grows downwards: the highest learning rate has the smallest y
    x0, x1 = xs[0], xs[-1]
    assert math.isclose((top - x0) / (x1 - x0), 40 / 199, abs_tol=0.02)  # the peak is at the end of warmup
    height = zero - min(ys)
    for x, y in zip(xs, ys):  # every point is lr_at at its step, as a share of the peak
        step = round((x - x0) / (x1 - x0) * 199)
        assert math.isclose((zero - y) / height, lr_at(step, cfg) / cfg.learning_rate, abs_tol=0.03)


def test_training_step_without_the_model_uses_the_configs_letters():
    d = draw.training_step(TrainConfig(batch_size=8, block_size=32, grad_clip=0.0, grad_accum_steps=4))
    renders_cleanly(d)
    labels = d.labels()
    assert "(8, 32, V)" in labels and "a grad per weight" in labels
    assert "off" in labels and "\u00d7 4 micro-batches" in labels
    assert "1,024 targets" in labels  # 8 windows of 32, in each of 4 micro-batches
    assert "does not clip" in d.alt


@FEW
@given(
    batch=st.integers(1, 1024), block=st.integers(1, 2048), accum=st.integers(1, 64),
    steps=st.integers(1, 600_000), warm=st.integers(0, 5000), clip=st.sampled_from([0.0, 0.5, 1.0, 10.0]),
    lr=st.sampled_from([6e-4, 3e-3, 1e-2, 0.1]), beta2=st.sampled_from([0.95, 0.99, 0.999]),
)
def test_training_step_lays_out_cleanly_for_other_settings(batch, block, accum, steps, warm, clip, lr, beta2):
    cfg = TrainConfig(batch_size=batch, block_size=block, grad_accum_steps=accum, max_steps=steps,
                      warmup_steps=warm, grad_clip=clip, learning_rate=lr, min_lr=lr / 10, betas=(0.9, beta2))
    d = draw.training_step(cfg)
    renders_cleanly(d)
    assert f"{batch} windows" in d.labels() and f"of {block} tokens" in d.labels()
    assert f"{batch * block * accum:,} targets" in d.labels()


def test_training_step_with_gpt2_small_sized_vocabulary():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50257, block_size=1024, n_layer=1, n_head=2, n_embd=8))
    d = draw.training_step(TrainConfig(batch_size=512), model)  # block_size from the model
    renders_cleanly(d)
    assert "(512, 1024, 50,257)" in d.labels() and f"{model.num_parameters():,} grads" in d.labels()


def test_training_step_explains_bad_input(chapter_model):
    with pytest.raises(TypeError, match="draws a TrainConfig.*TrainConfig\\(batch_size"):
        draw.training_step({"batch_size": 16})
    with pytest.raises(ValueError, match="block_size is None.*pass the model"):
        draw.training_step(TrainConfig())
    with pytest.raises(TypeError, match="model must be a GPT"):
        draw.training_step(TrainConfig(block_size=8), model="gpt")


# ------------------------------------------------------------------------------------ input and target windows
def test_shifted_windows_on_tiny_shakespeare(shakespeare):
    train_ids, _, tok = shakespeare
    d = draw.shifted_windows(tok, train_ids, block_size=16)
    renders_cleanly(d)
    text = tok.decode(train_ids[:17])
    rows = rows_of_labels(d)
    x_row = next(r for r in rows if r[0] == "input x")
    y_row = next(r for r in rows if r[0] == "target y")
    assert x_row[1:] == [piece_label(c) for c in text[:16]]  # x = tokens[0:16]
    assert y_row[1:] == [piece_label(c) for c in text[1:17]]  # y = tokens[1:17], y[t] under x[t]
    assert rows[0] == ["t"] + [str(t) for t in range(16)]
    assert repr(text[:16]) in d.alt and repr(text[1:]) in d.alt


def test_shifted_windows_from_a_text_and_a_start():
    text = "To be, or not to be, that is the question"
    tok = CharTokenizer(text)
    d = draw.shifted_windows(tok, text, block_size=5, start=3)
    renders_cleanly(d)
    rows = rows_of_labels(d)
    assert next(r for r in rows if r[0] == "input x")[1:] == list("be,\u2423o")
    assert next(r for r in rows if r[0] == "target y")[1:] == list("e,\u2423or")
    assert "x = ids[3 : 8],  y = ids[4 : 9]:  (5,) each" in d.labels()


def test_a_long_window_is_cut_with_a_note(shakespeare):
    train_ids, _, tok = shakespeare
    d = draw.shifted_windows(tok, train_ids, block_size=64, start=100)
    renders_cleanly(d)
    more = [s for s in d.labels() if s.startswith("\u2026")]
    assert len(more) == 2 and more[0] == more[1]  # one for x, one for y
    hidden = int(more[0].split()[1])
    drawn = len(rows_of_labels(d)[0]) - 1  # the index row numbers the drawn positions, after its "t"
    assert 0 < hidden < 64 and hidden + drawn == 64
    assert f"the first {drawn} positions are drawn" in d.alt


@FEW
@given(block=st.integers(1, 40), start=st.integers(0, 300), seed=st.integers(0, 10_000))
def test_shifted_windows_lay_out_cleanly_for_bpe_tokens(bpe, block, start, seed):
    tok, ids = bpe
    d = draw.shifted_windows(tok, ids, block_size=block, start=start)
    renders_cleanly(d)


@pytest.fixture(scope="module")
def bpe(shakespeare):
    train_ids, _, char_tok = shakespeare
    text = char_tok.decode(train_ids[:20_000])
    tok = BPETokenizer()
    tok.train(text, vocab_size=400)
    return tok, tok.encode(text[:3000])


def test_shifted_windows_explains_bad_input(shakespeare):
    _, _, tok = shakespeare
    with pytest.raises(ValueError, match="text is empty"):
        draw.shifted_windows(tok, "", 4)
    with pytest.raises(ValueError, match="needs 10 tokens.*there are 5"):
        draw.shifted_windows(tok, "hello", 9)
    with pytest.raises(ValueError, match="1-D tensor.*shape \\(2, 8\\)"):
        draw.shifted_windows(tok, torch.zeros(2, 8, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="block_size must be an integer >= 1"):
        draw.shifted_windows(tok, "hello there", 0)
    with pytest.raises(TypeError, match="encode and decode"):
        draw.shifted_windows("not a tokenizer", "hello there", 4)
    with pytest.raises(TypeError, match="1-D tensor of integers.*float32"):
        draw.shifted_windows(tok, torch.zeros(8), 4)
    with pytest.raises(TypeError, match="pass a text \\(str\\) or its token ids"):
        draw.shifted_windows(tok, [1.5, 2.0], 1)
    with pytest.raises(TypeError, match="block_size must be an integer, got float"):
        draw.shifted_windows(tok, "hello there", 4.0)
    with pytest.raises(TypeError, match="start must be an integer, got str"):
        draw.shifted_windows(tok, "hello there", 4, start="0")
    ids = tok.encode("hello there")  # numpy integers are integers
    assert (draw.shifted_windows(tok, list(np.array(ids)), np.int64(4), start=np.int64(1)).labels()
            == draw.shifted_windows(tok, ids, 4, start=1).labels())


# ------------------------------------------------------------------------------------------- a batch of windows
def test_batch_windows_are_the_windows_get_batch_draws(shakespeare):
    train_ids, val_ids, tok = shakespeare
    d = draw.batch_windows(tok, train_ids, batch_size=4, block_size=16, seed=0, val_data=val_ids)
    renders_cleanly(d)
    x, y = get_batch(train_ids, 4, 16, torch.Generator().manual_seed(0))
    rows = {r[0]: r[1:] for r in rows_of_labels(d) if r[0].startswith("x[")}
    assert list(rows) == ["x[0]", "x[1]", "x[2]", "x[3]"]
    for b in range(4):
        assert rows[f"x[{b}]"] == [piece_label(c) for c in tok.decode(x[b])] + [piece_label(tok.decode(y[b, -1:]))]
    assert f"training ids: {len(train_ids):,} tokens" in d.labels()
    assert f"validation: {len(val_ids):,}" in d.labels()
    assert "x: (4, 16)" in d.labels() and repr(tok.decode(x[0])) in d.alt


def test_a_big_batch_is_capped_with_notes(shakespeare):
    train_ids, _, tok = shakespeare
    d = draw.batch_windows(tok, train_ids, batch_size=32, block_size=64, seed=5)
    renders_cleanly(d)
    assert "\u2026 24 more windows" in d.labels()
    assert any(s.startswith("\u2026") and s.endswith("more") for s in d.labels())  # the cut rows
    assert "validation" not in " ".join(d.labels())
    assert sum(1 for s in d.labels() if s.startswith("x[")) == 8


@FEW
@given(batch=st.integers(1, 12), block=st.integers(1, 30), seed=st.integers(0, 1000))
def test_batch_windows_lay_out_cleanly(bpe, batch, block, seed):
    tok, ids = bpe
    data = torch.tensor(ids)
    d = draw.batch_windows(tok, data, batch_size=batch, block_size=block, seed=seed, val_data=data[:100])
    renders_cleanly(d)


def test_batch_windows_explains_bad_input(shakespeare):
    train_ids, _, tok = shakespeare
    with pytest.raises(TypeError, match="1-D tensor of token ids"):
        draw.batch_windows(tok, train_ids.tolist(), 4, 16)
    with pytest.raises(ValueError, match="1-D tensor of token ids"):
        draw.batch_windows(tok, train_ids[None], 4, 16)
    with pytest.raises(TypeError, match="seed must be an integer, got float"):
        draw.batch_windows(tok, train_ids, 4, 16, seed=1.0)
    with pytest.raises(TypeError, match="max_rows must be an integer, got str"):
        draw.batch_windows(tok, train_ids, 4, 16, max_rows="8")
    with pytest.raises(ValueError, match="data has 10 tokens.*needs 17"):
        draw.batch_windows(tok, train_ids[:10], 4, 16)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        draw.batch_windows(tok, train_ids, 0, 16)
    with pytest.raises(TypeError, match="val_data must be a 1-D tensor"):
        draw.batch_windows(tok, train_ids, 4, 16, val_data=[1, 2, 3])
    with pytest.raises(ValueError, match="val_data must be a 1-D tensor"):
        draw.batch_windows(tok, train_ids, 4, 16, val_data=train_ids[None])
    a = draw.batch_windows(tok, train_ids, np.int64(4), np.int64(16), seed=np.int64(1), max_rows=np.int64(3))
    assert a.labels() == draw.batch_windows(tok, train_ids, 4, 16, seed=1, max_rows=3).labels()
