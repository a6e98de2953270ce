"""The chapter 10 drawings: three architectures and their masks, two objectives, the family tree."""

import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt2lite import draw

BIB = (Path(__file__).resolve().parents[1] / "book" / "references.bib").read_text()
words = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9), min_size=1, max_size=9)


def rendered(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.alt
    return d


# ---------------------------------------------------------------------------- architectures
def test_architectures_of_the_book():
    d = rendered(draw.architectures("the king is dead".split(), target="le roi est mort".split()))
    assert d.problems() == []
    labels = d.labels()
    for name in ("encoder", "decoder", "encoder-decoder", "BERT, 2018", "GPT, 2018", "Transformer, 2017",
                 "bidirectional", "causal", "cross", "cross-attention"):
        assert name in labels
    assert labels.count("king") == 2 + 2 + 1  # rows and columns of BERT's and GPT's masks, the cross mask's columns
    assert labels.count("roi") == 2  # rows and columns of the decoder's mask (the cross mask shares its rows)
    assert "the king is dead" in d.alt


def test_the_masks_are_the_real_ones():
    """Hidden cells (the mask colour) sit exactly above the diagonal of the causal masks: T(T-1)/2 each."""
    from gpt2lite.draw.style import PALETTE

    for n in (2, 3, 5):
        d = draw.architectures([f"t{i}" for i in range(n)])
        grey = PALETTE["mask"].fill
        from matplotlib.colors import to_hex
        hidden = sum(1 for p in d.ax.patches if to_hex(p.get_facecolor()) == grey and p.get_width() == 14.0)
        assert hidden == 2 * n * (n - 1) // 2  # GPT's mask and the decoder's: causal; BERT's and cross: none


@settings(max_examples=6, deadline=None)
@given(src=words, tgt=st.one_of(st.none(), words))
def test_architectures_lay_out_cleanly(src, tgt):
    d = draw.architectures(src, target=tgt)
    assert d.problems() == []
    if len(src) > 5:
        assert any("more tokens not drawn" in label for label in d.labels())


@pytest.mark.parametrize("kwargs, match", [
    (dict(tokens=[]), "at least 1"),
    (dict(tokens=["a", ""]), "empty token"),
    (dict(tokens=["a"], max_tokens=9), "from 2 to 6"),
])
def test_architectures_refuse_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        draw.architectures(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(tokens=[1, 2]), "list of token strings"),
    (dict(tokens="ab", target=5), "target must be a list of token strings"),
    (dict(tokens="ab", max_tokens=4.0), "max_tokens must be an integer, got float"),
    (dict(tokens="ab", max_tokens="4"), "max_tokens must be an integer, got str"),
])
def test_architectures_refuse_wrong_types_with_a_type_error(kwargs, match):
    with pytest.raises(TypeError, match=match):
        draw.architectures(**kwargs)


# ---------------------------------------------------------------------------- objectives
def test_objectives_follow_the_sentence_and_the_mask():
    text = "Now is the winter of our discontent"
    masked = torch.zeros(1, len(text), dtype=torch.bool)
    masked[0, [2, 3, 12, 28]] = True
    d = rendered(draw.objectives(text, masked))
    assert d.problems() == []
    labels = d.labels()
    assert f"every position is a target: {len(text) - 1} of {len(text) - 1}" in labels
    assert any(f"4 of {len(text)}" in label for label in labels)
    assert labels.count("_") == 4
    # the same figure from indices
    assert draw.objectives(text, [2, 3, 12, 28]).labels() == labels


def test_objectives_gpt_targets_are_the_inputs_shifted():
    toks = "the king is dead".split()
    d = draw.objectives(toks, [1])
    labels = d.labels()
    gpt = labels[: labels.index("masked token (BERT)")]
    boxes = [label for label in gpt if label in toks]
    # input, target pairs per position: the, king | king, is | is, dead
    assert boxes == ["the", "king", "king", "is", "is", "dead"]


@settings(max_examples=6, deadline=None)
@given(toks=st.lists(st.text(alphabet="abcxyz ", min_size=1, max_size=8), min_size=2, max_size=70), data=st.data())
def test_objectives_lay_out_cleanly(toks, data):
    masked = data.draw(st.lists(st.integers(0, len(toks) - 1), min_size=1, max_size=len(toks)))
    d = draw.objectives(toks, masked)
    assert d.problems() == []
    assert (len(toks) > 48) == any("more tokens not drawn" in label for label in d.labels())


@pytest.mark.parametrize("tokens, masked, match", [
    ("a", [0], "at least 2"),
    ("abc", [], "no position is masked"),
    ("abc", None, "masked positions"),
    ("abc", [5], "lie in 0..2"),
    ("abc", torch.tensor([True, False]), "one bool per token"),
    ("abc", [[0, 1]], "bool per token"),
])
def test_objectives_refuse_bad_input(tokens, masked, match):
    with pytest.raises(ValueError, match=match):
        draw.objectives(tokens, masked)


@pytest.mark.parametrize("tokens, masked, kwargs", [
    ("abc", [0.5], {}),
    ("abc", "0", {}),
    ("abc", [0], {"max_tokens": 2.5}),
    (["a", 2], [0], {}),
])
def test_objectives_refuse_wrong_types_with_a_type_error(tokens, masked, kwargs):
    with pytest.raises(TypeError):
        draw.objectives(tokens, masked, **kwargs)


# ---------------------------------------------------------------------------- family tree
def test_family_tree_of_the_book():
    d = rendered(draw.family_tree())
    assert d.problems() == []
    labels = d.labels()
    for m in draw.FAMILY:
        assert m.name in labels and str(m.year) in labels
        assert re.search(rf"@\w+\{{{m.cite},", BIB), f"{m.cite} is not in references.bib"
    assert [m.name for m in draw.FAMILY] == ["Transformer", "GPT", "BERT", "GPT-2", "Transformer-XL", "XLNet"]
    assert "XLNet (2019) from Transformer-XL, BERT" in d.alt


def test_family_tree_follows_its_table():
    M = draw.Model
    table = [M("A", 2020, "x", "encoder-decoder", "root"), M("B", 2021, "y", "causal", "child", ("A",)),
             M("C", 2021, "z", "causal", "sibling", ("A",)), M("D", 2022, "w", "both sides", "grandchild", ("B",))]
    d = draw.family_tree(table)
    assert d.problems() == []
    labels = d.labels()
    assert {"2020", "2021", "2022", "A", "B", "C", "D"} <= set(labels) and "2019" not in labels
    assert "GPT" not in labels


@pytest.mark.parametrize("table, match", [
    ([], "non-empty"),
    ([draw.Model("A", 2020, "x", "causal", "a", ("Z",))], "not in the table"),
    ([draw.Model("A", 2020, "x", "sideways", "a")], "lane"),
    ([draw.Model("A", 2020, "x", "causal", "a", ("B",)), draw.Model("B", 2021, "y", "causal", "b")], "came later"),
    ([draw.Model("A", 2020, "x", "causal", "a"), draw.Model("A", 2021, "y", "causal", "b")], "share a name"),
])
def test_family_tree_refuses_bad_tables(table, match):
    with pytest.raises(ValueError, match=match):
        draw.family_tree(table)


@pytest.mark.parametrize("table, match", [
    (["GPT"], "list of draw.Model entries"),
    ([draw.Model("A", 2020.5, "x", "causal", "a")], "year must be an int"),
])
def test_family_tree_refuses_wrong_types_with_a_type_error(table, match):
    with pytest.raises(TypeError, match=match):
        draw.family_tree(table)


def test_family_tree_takes_numpy_years():
    import numpy as np

    table = [draw.Model("A", np.int64(2020), "x", "causal", "a"), draw.Model("B", np.int64(2021), "y", "causal", "b",
                                                                             ("A",))]
    assert {"2020", "2021"} <= set(draw.family_tree(table).labels())
