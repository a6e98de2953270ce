"""The chapter 9 drawings: checkpoint names -> modules, the safetensors layout, the loading steps."""

import json
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save, save_file

from gpt2lite import GPT, GPTConfig, draw
from gpt2lite.pretrained import CONV1D_WEIGHTS, NON_WEIGHTS, save_pretrained


def tiny(n_layer=2, n_embd=16, vocab_size=50):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=8, n_layer=n_layer, n_head=2, n_embd=n_embd))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_pretrained(tiny(), tmp_path_factory.mktemp("ck") / "tiny")


def hf_state(n_layer=2, prefix=True, buffers=False, head=False):
    """A GPT-2 checkpoint's state dict (Hugging Face names, Conv1D layout) made from a tiny gpt2lite model."""
    model = tiny(n_layer)
    state = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight" and not head:
            continue
        v = v.t() if k.endswith(CONV1D_WEIGHTS) else v
        state[k if prefix or k.startswith("lm_head") else k.removeprefix("transformer.")] = v
    if buffers:
        for i in range(n_layer):
            state[f"h.{i}.attn.bias"] = torch.ones(1, 1, 8, 8).tril()
    return state


def rendered(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.alt
    return d


# ---------------------------------------------------------------------------- checkpoint_names
@settings(max_examples=5, deadline=None)
@given(n_layer=st.integers(1, 12), prefix=st.booleans(), buffers=st.booleans(), head=st.booleans())
def test_names_lay_out_cleanly(n_layer, prefix, buffers, head):
    d = rendered(draw.checkpoint_names(hf_state(n_layer, prefix, buffers, head)))
    assert d.problems() == []
    labels = d.labels()
    assert labels.count("⊤") == 4  # the shown block's four Conv1D weights, marked
    assert (f"h.1 … h.{n_layer - 1}" in labels) == (n_layer > 2)
    assert ("(not stored: tied to wte)" in labels) == (not head)
    assert sum(label == "✕" for label in labels) == (1 if buffers else 0)


def test_names_mark_exactly_the_conv1d_weights_of_pretrained():
    state = hf_state(3)
    d = draw.checkpoint_names(state)
    labels = d.labels()
    # every tensor of block 0 is listed by its checkpoint name, in the model's order
    block0 = [k for k in labels if k.startswith("transformer.h.0.")]
    assert block0 == [k for k in tiny(3).state_dict() if k.startswith("transformer.h.0.")]
    assert "h.1 … h.2" in labels and "Block × 2" in labels
    assert f"{len(CONV1D_WEIGHTS) * 3} in all" in " ".join(labels)
    assert "(16, 48)" in labels  # c_attn's shape as stored: (in, out)


def test_names_accept_a_plain_list_and_name_the_module_types():
    d = draw.checkpoint_names(list(hf_state(1, prefix=False)))
    assert d.problems() == []
    labels = d.labels()
    assert {"Embedding", "LayerNorm", "Linear"} <= set(labels)
    assert "h.1" not in " ".join(labels)  # one block: nothing folded
    assert any("lack the prefix 'transformer.'" in label for label in labels)


@pytest.mark.parametrize("bad, error, match", [
    ([], ValueError, "no tensors"),
    ("transformer.wte.weight", TypeError, "single str"),
    (["transformer.wte.weight", "encoder.layer.0.weight"], ValueError, "not a GPT-2 tensor name"),
    ([3], TypeError, "must be str"),
    (42, TypeError, "got a int"),
])
def test_names_refuse_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        draw.checkpoint_names(bad)


# ---------------------------------------------------------------------------- safetensors_layout
def test_layout_reads_the_offsets_from_the_file(checkpoint):
    path = checkpoint / "model.safetensors"
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    d = rendered(draw.safetensors_layout(path))
    assert d.problems() == []
    labels = d.labels()
    assert f"n = {n:,}" in labels and f"{len(raw):,}" in labels
    first = min((v for k, v in header.items() if k != "__metadata__"), key=lambda v: v["data_offsets"][0])
    assert f"{8 + n + first['data_offsets'][0]:,}" in labels  # absolute first byte of the first tensor
    last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    assert last in labels and f"{8 + n + header[last]['data_offsets'][0]:,}" in labels
    assert f"byte 8 + n = {8 + n:,}" in " ".join(labels)
    assert draw.safetensors_layout(raw).labels() == labels  # bytes or path: the same figure
    assert draw.safetensors_layout(checkpoint).labels() == labels  # or the folder


@settings(max_examples=4, deadline=None)
@given(n_layer=st.integers(1, 4), max_tensors=st.integers(2, 14))
def test_layout_folds_what_does_not_fit(n_layer, max_tensors):
    raw = save({k: v.contiguous() for k, v in hf_state(n_layer).items()})
    d = draw.safetensors_layout(raw, max_tensors=max_tensors)
    assert d.problems() == []
    n_tensors = 12 * n_layer + 4
    folded = [label for label in d.labels() if re.fullmatch(r"… \d+ more tensors", label)]
    assert bool(folded) == (n_tensors > max_tensors)
    if folded:
        assert folded[0] == f"… {n_tensors - max_tensors} more tensors"


@pytest.mark.parametrize("bad, match", [
    (b"1234", "only 4 bytes"),
    ((10**6).to_bytes(8, "little") + b"{}", "not a safetensors file"),
    ((4).to_bytes(8, "little") + b"nope", "not valid JSON"),
    ((2).to_bytes(8, "little") + b"{}", "no tensors"),
    ("/nonexistent/model.safetensors", "no safetensors file"),
])
def test_layout_refuses_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        draw.safetensors_layout(bad)


def test_layout_refuses_what_is_no_file_with_a_type_error():
    with pytest.raises(TypeError, match="path to a .safetensors file or its bytes"):
        draw.safetensors_layout(3.5)


def test_layout_refuses_a_truncated_file(checkpoint):
    with pytest.raises(ValueError, match="truncated"):
        draw.safetensors_layout((checkpoint / "model.safetensors").read_bytes()[:-100])


# ---------------------------------------------------------------------------- loading_pipeline
def test_pipeline_counts_from_the_folder(checkpoint, tmp_path):
    model = tiny()
    for hub in (None, "gpt2"):
        d = rendered(draw.loading_pipeline(checkpoint, hub_name=hub))
        assert d.problems() == []
        labels = d.labels()
        assert f"{model.num_parameters():,} parameters, eval mode" in labels
        assert "8 Conv1D weights" in labels and "2 layers, 2 heads, width 16" in labels
        assert ("Hugging Face Hub: gpt2" in labels) == (hub is not None)
    # an older layout: no prefix, buffers
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text((checkpoint / "config.json").read_text())
    save_file({k: v.contiguous() for k, v in hf_state(2, prefix=False, buffers=True).items()},
              old / "model.safetensors")
    labels = draw.loading_pipeline(old).labels()
    assert "2 attn.bias / masked_bias" in labels and "add 'transformer.' to 30 names" in labels


def test_pipeline_refuses_a_folder_without_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="needs config.json and model.safetensors"):
        draw.loading_pipeline(tmp_path)
    with pytest.raises(TypeError, match="a path"):
        draw.loading_pipeline(42)
