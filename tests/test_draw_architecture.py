"""The architecture drawings (chapters 5 and 6): they render cleanly for the book's configs and for others, and
what they show (blocks, widths, parameter counts, LayerNorm placement) follows the config."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from gpt2lite import GPT, GPTConfig, draw
from gpt2lite.model import MLP, Block

SIZES = ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"]
TOY = GPTConfig(vocab_size=100, block_size=16, n_layer=3, n_head=4, n_embd=32)
CONFIGS = [
    GPTConfig.from_name("gpt2"),
    GPTConfig.from_name("gpt1"),
    TOY,
    GPTConfig(vocab_size=50257, block_size=2048, n_layer=96, n_head=96, n_embd=12288),
]
IDS = ["gpt2", "gpt1", "toy", "gpt3-sized"]


def _clean(d):
    assert d.problems() == []  # renders the SVG, too
    assert d.alt and d.width <= 560
    return d


def _numbers(d):
    """Every comma-grouped integer in the drawing's labels."""
    return {int(n.replace(",", "")) for s in d.labels() for n in re.findall(r"\d{1,3}(?:,\d{3})+|\d+", s)}


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_every_drawing_is_clean_for_many_configs(config):
    _clean(draw.decoder_block(config))
    _clean(draw.decoder_block(config, pre_ln=not config.pre_ln))
    _clean(draw.block_arrangements(config))
    _clean(draw.mlp(config))
    _clean(draw.parameter_areas(config))
    _clean(draw.tied_output(config))
    _clean(draw.model_sizes([config]))
    if config.pre_ln:
        _clean(draw.residual_stream(config))


def test_the_svg_is_the_same_twice():
    svg = draw.parameter_areas(GPTConfig.from_name("gpt2")).svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert svg == draw.parameter_areas(GPTConfig.from_name("gpt2")).svg()


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_the_block_shows_its_real_parameter_counts(config):
    with torch.device("meta"):
        block = Block(config)
    per_part = {name: sum(p.numel() for p in m.parameters()) for name, m in block.named_children()}
    d = draw.decoder_block(config)
    numbers = _numbers(d)
    assert {per_part["attn"], per_part["mlp"], sum(per_part.values()), config.n_layer} <= numbers
    if config.pre_ln:  # each LayerNorm's count sits beside it
        assert per_part["ln_1"] in numbers
    assert f"× {config.n_layer}" in d.labels()


def test_pre_ln_puts_the_layernorms_in_the_branches_and_post_ln_on_the_stream():
    cfg = GPTConfig.from_name("gpt2")
    pre, post = draw.decoder_block(cfg, pre_ln=True), draw.decoder_block(cfg, pre_ln=False)
    assert pre.labels().count("LayerNorm") == post.labels().count("LayerNorm") == 2
    assert "pre-LN" in pre.alt and "post-LN" in post.alt
    # drawn bottom to top: pre-LN meets a LayerNorm before the attention, post-LN after it
    def ys(d, label):
        return sorted((b[1] for s, b in d.text_boxes() if s == label), reverse=True)
    assert ys(pre, "LayerNorm")[0] > ys(pre, "self-attention")[0]
    assert ys(post, "LayerNorm")[0] < ys(post, "self-attention")[0]
    # the config decides when pre_ln is not given
    assert draw.decoder_block(GPTConfig.from_name("gpt1")).alt == post.alt
    both = draw.block_arrangements(cfg)
    assert {"pre-LN (GPT-2)", "post-LN (GPT-1)"} <= set(both.labels())
    assert both.labels().count("LayerNorm") == 4


@pytest.mark.parametrize("n_layer", [1, 2, 5, 12])
def test_the_residual_stream_draws_every_block(n_layer):
    d = _clean(draw.residual_stream(GPTConfig(n_layer=n_layer, n_head=4, n_embd=64)))
    assert d.labels().count("attention") == d.labels().count("MLP") == n_layer
    assert [s for s in d.labels() if s.startswith("block ")] == [f"block {k}" for k in range(1, n_layer + 1)]
    assert "(B, T, 64)" in d.labels()


def test_a_deep_stream_is_capped_and_says_how_many_are_left_out():
    d = _clean(draw.residual_stream(GPTConfig.from_name("gpt2-xl")))
    assert d.labels().count("attention") == 12
    assert "… 36 more blocks" in d.labels() and "block 48" in d.labels()
    d = _clean(draw.residual_stream(GPTConfig.from_name("gpt2-xl"), max_blocks=4))
    assert d.labels().count("MLP") == 4 and "… 44 more blocks" in d.labels()


def test_the_mlp_shows_its_widths_and_real_counts():
    cfg = GPTConfig.from_name("gpt2")
    m = MLP(cfg)
    d = draw.mlp(cfg)
    assert {"C = 768", "4C = 3072", "c_fc", "c_proj", "GELU"} <= set(d.labels())
    fc, proj = (sum(p.numel() for p in lin.parameters()) for lin in (m.c_fc, m.c_proj))
    assert f"= {fc:,}" in d.labels() and f"= {proj:,}" in d.labels()
    assert any(f"{fc + proj:,}" in s for s in d.labels())
    no_bias = GPTConfig(n_embd=16, n_head=4, bias=False)
    n = sum(p.numel() for p in MLP(no_bias).parameters())
    assert any(f"{n:,} parameters = 8C², C = 16" in s for s in draw.mlp(no_bias).labels())


def test_model_sizes_draws_the_four_gpt2s_to_scale():
    configs = {name: GPTConfig.from_name(name) for name in SIZES}
    d = _clean(draw.model_sizes(configs))
    for name, cfg in configs.items():
        assert name in d.labels() and f"{cfg.n_layer} blocks" in d.labels()
        assert f"L = {cfg.n_layer}, C = {cfg.n_embd}" in d.labels()
    with torch.device("meta"):
        xl = GPT(configs["gpt2-xl"]).num_parameters()
    assert f"{xl / 1e9:.2f}B parameters" in d.labels()
    # slabs: one attention box and one MLP box per block, widths proportional to n_embd
    slabs = [p for p in d.ax.patches if p.get_height() < 8]
    assert len(slabs) == 2 * sum(c.n_layer for c in configs.values())
    lowest = max(round(p.get_y(), 1) for p in slabs)  # the lowest row holds the first block of every model
    row = sorted((p.get_x(), p.get_width()) for p in slabs if round(p.get_y(), 1) == lowest)
    col_w = [a[1] + m[1] for a, m in zip(row[::2], row[1::2])]  # attention + MLP
    for w, cfg in zip(col_w, configs.values()):
        assert w / col_w[0] == pytest.approx(cfg.n_embd / 768, rel=0.01)


def test_model_sizes_names_presets_caps_and_rejects_bad_input():
    d = draw.model_sizes([GPTConfig.from_name("gpt2"), TOY])
    assert "gpt2" in d.labels() and "model 2" in d.labels()
    many = draw.model_sizes([TOY] * 6)
    assert "… 2 more not drawn" in many.labels() and _clean(many)
    with pytest.raises(ValueError, match="at least one config"):
        draw.model_sizes([])
    with pytest.raises(TypeError, match="'small' is a dict, not a GPTConfig"):
        draw.model_sizes({"small": {"n_layer": 12}})


@pytest.mark.parametrize("name", SIZES + ["gpt1"])
def test_parameter_groups_match_a_real_model(name):
    cfg = GPTConfig.from_name(name)
    with torch.device("meta"):
        model = GPT(cfg)
    real = dict.fromkeys(["wte", "wpe", "attn", "mlp", "ln"], 0)
    for pname, p in model.named_parameters():  # the tied matrix appears once, as transformer.wte.weight
        key = next(k for k in ("wte", "wpe", "attn", "mlp") if f".{k}." in f".{pname}") if ".ln_" not in pname \
            else "ln"
        real[key] += p.numel()
    groups = draw.parameter_groups(cfg)
    assert list(groups.values()) == [real["wte"], real["wpe"], real["attn"], real["mlp"], real["ln"]]
    assert sum(groups.values()) == model.num_parameters()
    d = draw.parameter_areas(cfg)
    assert {f"{v:,}" for v in groups.values()} <= set(d.labels())


def test_parameter_areas_are_proportional_to_the_counts():
    cfg = GPTConfig.from_name("gpt2")
    d = draw.parameter_areas(cfg)
    groups = draw.parameter_groups(cfg)
    area = {}
    for p in d.ax.patches:
        fill = p.get_facecolor()
        key = tuple(round(v, 3) for v in fill)
        if p.get_width() > 0 and p.get_height() > 20 or p.get_width() > 100:  # the treemap, not the swatches
            area[key] = area.get(key, 0) + p.get_width() * p.get_height()
    from matplotlib.colors import to_rgba
    fills = {k: tuple(round(v, 3) for v in to_rgba(draw.PALETTE[k].fill)) for k in ("embedding", "attention", "mlp")}
    ratio_attn = area[fills["attention"]] / area[fills["mlp"]]
    assert ratio_attn == pytest.approx(list(groups.values())[2] / list(groups.values())[3], rel=0.02)


def test_the_tied_output_follows_the_config():
    gpt2, gpt1 = GPTConfig.from_name("gpt2"), GPTConfig.from_name("gpt1")
    d = draw.tied_output(gpt2)
    assert {"wte", "ln_f", "12 decoder blocks", "(50257, 768)", "(B, T, 50257)"} <= set(d.labels())
    assert d.labels().count("wte") == 1  # one matrix, drawn once
    assert "38.6M params" in d.labels()
    d1 = draw.tied_output(gpt1)
    assert "ln_f" not in d1.labels() and "(40478, 768)" in d1.labels()  # post-LN: no final LayerNorm


@pytest.mark.parametrize("fn", [draw.decoder_block, draw.block_arrangements, draw.residual_stream, draw.mlp,
                                draw.parameter_areas, draw.parameter_groups, draw.tied_output])
def test_a_non_config_is_refused_with_a_hint(fn):
    with pytest.raises(TypeError, match=r"GPTConfig.*GPTConfig.from_name\('gpt2'\)"):
        fn({"n_layer": 12})


def test_bad_options_are_refused():
    with pytest.raises(TypeError, match="pre_ln must be True"):
        draw.decoder_block(GPTConfig(), pre_ln="yes")
    with pytest.raises(ValueError, match="pre_ln=False.*decoder_block"):
        draw.residual_stream(GPTConfig.from_name("gpt1"))
    with pytest.raises(ValueError, match="max_blocks must be an integer of at least 2"):
        draw.residual_stream(GPTConfig(), max_blocks=1)


@settings(max_examples=5, deadline=None)
@given(n_layer=st.integers(1, 200), head_dim=st.integers(1, 256), n_head=st.integers(1, 64),
       vocab_size=st.integers(2, 300_000), block_size=st.integers(1, 100_000), bias=st.booleans())
def test_any_config_draws_cleanly(n_layer, head_dim, n_head, vocab_size, block_size, bias):
    cfg = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                    n_embd=head_dim * n_head, bias=bias)
    for d in (draw.decoder_block(cfg), draw.residual_stream(cfg), draw.parameter_areas(cfg),
              draw.tied_output(cfg)):
        _clean(d)
    assert sum(draw.parameter_groups(cfg).values()) == (
        cfg.vocab_size * cfg.n_embd + cfg.block_size * cfg.n_embd
        + cfg.n_layer * (12 * cfg.n_embd**2 + (13 if bias else 2) * cfg.n_embd) + (2 if bias else 1) * cfg.n_embd
    )
