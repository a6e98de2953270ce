"""Loading and saving Hugging Face GPT-2 checkpoints, checked against transformers itself."""

import json
import os
import pickle

import pytest
import torch
from local_web import COMMIT, LocalWeb
from safetensors.torch import load_file, save_file

from gpt2lite import GPT, GPTConfig
from gpt2lite.pretrained import config_from_hf, config_to_hf

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_model():
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=211, n_positions=48, n_embd=64, n_layer=3, n_head=4,
        initializer_range=0.1,  # larger than GPT-2's 0.02, so the logits are far from zero and differences show
        bos_token_id=0, eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def hf_dir(hf_model, tmp_path_factory):
    directory = tmp_path_factory.mktemp("hf")
    hf_model.save_pretrained(directory)
    return directory


@pytest.fixture
def ids():
    return torch.randint(0, 211, (2, 48), generator=torch.Generator().manual_seed(0))


def test_logits_match_transformers_fp32(hf_model, hf_dir, ids):
    ours = GPT.from_pretrained(hf_dir)
    with torch.no_grad():
        expected = hf_model(ids).logits
        got = ours(ids)
    assert expected.abs().max() > 1.0  # a meaningful comparison, not two near-zero tensors
    assert (got - expected).abs().max().item() <= 1e-5


def test_logits_match_transformers_fp64(hf_model, hf_dir, ids):
    ours = GPT.from_pretrained(hf_dir).double()
    hf64 = transformers.GPT2LMHeadModel.from_pretrained(hf_dir).double().eval()
    with torch.no_grad():
        diff = (ours(ids) - hf64(ids).logits).abs().max().item()
    assert diff <= 1e-10


def test_explicit_attention_path_matches_too(hf_model, hf_dir, ids):
    ours = GPT.from_pretrained(hf_dir, attn_impl="explicit")
    with torch.no_grad():
        assert (ours(ids) - hf_model(ids).logits).abs().max().item() <= 1e-5


def test_greedy_generation_matches_transformers(hf_model, hf_dir):
    ours = GPT.from_pretrained(hf_dir)
    prompt = torch.tensor([[5, 17, 99, 3]])
    expected = hf_model.generate(prompt, max_new_tokens=40, do_sample=False, eos_token_id=None, pad_token_id=0)
    assert torch.equal(ours.generate(prompt, 40, temperature=0), expected)


def test_from_pretrained_returns_eval_mode_with_tied_weights(hf_dir):
    model = GPT.from_pretrained(hf_dir)
    assert not model.training
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.config.block_size == 48 and model.config.vocab_size == 211


def test_our_checkpoint_loads_in_transformers(tmp_path, ids):
    torch.manual_seed(1)
    ours = GPT(GPTConfig(vocab_size=211, block_size=48, n_layer=2, n_head=4, n_embd=64)).eval()
    ours.save_pretrained(tmp_path)
    theirs = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert (theirs(ids).logits - ours(ids)).abs().max().item() <= 1e-5
    again = GPT.from_pretrained(tmp_path)  # and our own round trip is exact
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), ours.state_dict().values()))


def test_openai_layout_without_prefix_with_buffers_in_a_bin(hf_model, hf_dir, tmp_path, ids):
    """OpenAI's upload: keys without "transformer.", the causal-mask buffers stored, a pickle .bin."""
    state = load_file(hf_dir / "model.safetensors")
    openai = {k.removeprefix("transformer."): v for k, v in state.items()}
    for i in range(3):
        openai[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 48, 48))
        openai[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    openai["lm_head.weight"] = openai["wte.weight"]
    torch.save(openai, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((hf_dir / "config.json").read_text())
    with torch.no_grad():
        assert (GPT.from_pretrained(tmp_path)(ids) - hf_model(ids).logits).abs().max().item() <= 1e-5


# ---------------------------------------------------------------------------- bad checkpoints
def _copy_with(tmp_path, hf_dir, edit):
    state = load_file(hf_dir / "model.safetensors")
    edit(state)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text((hf_dir / "config.json").read_text())
    return tmp_path


def test_missing_tensor_is_named(hf_dir, tmp_path):
    path = _copy_with(tmp_path, hf_dir, lambda s: s.pop("transformer.h.1.mlp.c_fc.bias"))
    with pytest.raises(ValueError, match=r"missing tensors \['transformer.h.1.mlp.c_fc.bias'\]"):
        GPT.from_pretrained(path)


def test_extra_tensor_is_named(hf_dir, tmp_path):
    path = _copy_with(tmp_path, hf_dir, lambda s: s.update({"transformer.h.9.ln_1.weight": torch.ones(64)}))
    with pytest.raises(ValueError, match=r"unexpected tensors \['transformer.h.9.ln_1.weight'\]"):
        GPT.from_pretrained(path)


def test_misshaped_tensor_is_named(hf_dir, tmp_path):
    path = _copy_with(tmp_path, hf_dir, lambda s: s.update({"transformer.h.0.mlp.c_fc.weight": torch.ones(64, 100)}))
    with pytest.raises(ValueError, match=r"'transformer.h.0.mlp.c_fc.weight' has shape \(100, 64\).*expects \(256, 64\)"):
        GPT.from_pretrained(path)


def test_config_that_does_not_match_the_weights(hf_dir, tmp_path):
    config = json.loads((hf_dir / "config.json").read_text())
    config["n_layer"] = 4
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((hf_dir / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match=r"missing tensors \['transformer.h.3"):
        GPT.from_pretrained(tmp_path)


def test_untied_output_layer_is_refused(hf_dir, tmp_path):
    path = _copy_with(tmp_path, hf_dir, lambda s: s.update({"lm_head.weight": torch.zeros(211, 64)}))
    with pytest.raises(ValueError, match="ties the two"):
        GPT.from_pretrained(path)


def test_truncated_safetensors(hf_dir, tmp_path):
    data = (hf_dir / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "config.json").write_text((hf_dir / "config.json").read_text())
    with pytest.raises(ValueError, match="corrupted or truncated"):
        GPT.from_pretrained(tmp_path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickle_that_would_run_code_is_refused(hf_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "pytorch_model.bin", "wb") as f:
        pickle.dump({"wte.weight": _Exploit()}, f)
    (tmp_path / "config.json").write_text((hf_dir / "config.json").read_text())
    with pytest.raises(ValueError, match="not a plain tensor checkpoint"):
        GPT.from_pretrained(tmp_path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model_type": "bert"}, "not a GPT-2 checkpoint"),
        ({"activation_function": "relu"}, "activation_function 'relu'"),
        ({"n_inner": 100}, "n_inner=100"),
    ],
)
def test_unsupported_configs(hf_dir, tmp_path, change, message):
    config = {**json.loads((hf_dir / "config.json").read_text()), **change}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((hf_dir / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match=message):
        GPT.from_pretrained(tmp_path)


def test_broken_config_json(hf_dir, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.safetensors").write_bytes((hf_dir / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="not valid JSON"):
        GPT.from_pretrained(tmp_path)


def test_only_gpt2_shaped_models_can_be_exported(tmp_path):
    with pytest.raises(ValueError, match="GPT-2-shaped"):
        GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=1, n_embd=8, pre_ln=False)).save_pretrained(tmp_path)


# ---------------------------------------------------------------------------- finding checkpoints
def test_stray_folder_does_not_hijack_the_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # an empty cache: the hub must be asked
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(OSError, match="could not get 'openai-community/gpt2' from the Hugging Face Hub.*local directory"):
        GPT.from_pretrained("gpt2")


def test_missing_local_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint directory"):
        GPT.from_pretrained(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        GPT.from_pretrained(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        GPT.from_pretrained("./relative/path/that/is/missing")


def test_from_pretrained_downloads_from_the_hub_once_then_reads_the_cache(hf_dir, tmp_path, monkeypatch):
    """GPT.from_pretrained("gpt2") runs its real hub download, against a local stand-in for the Hub."""
    files = {f.name: f.read_bytes() for f in hf_dir.iterdir() if f.name in ("config.json", "model.safetensors")}
    hub = pytest.importorskip("huggingface_hub.constants")
    with LocalWeb(hub={"openai-community/gpt2": files}) as web:
        # What HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE=0 do in a fresh process (huggingface_hub reads them on import)
        monkeypatch.setattr(hub, "ENDPOINT", web.url)
        monkeypatch.setattr(hub, "HUGGINGFACE_CO_URL_TEMPLATE", web.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
        monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
        model = GPT.from_pretrained("gpt2")
        reference = GPT.from_pretrained(hf_dir)
        assert model.state_dict().keys() == reference.state_dict().keys()
        assert all(torch.equal(t, reference.state_dict()[k]) for k, t in model.state_dict().items())
        weights = f"/openai-community/gpt2/resolve/{COMMIT}/model.safetensors"
        assert web.count(weights) == 1
        GPT.from_pretrained("gpt2")  # the second time from the cache
        assert web.count(weights) == 1
    assert list((tmp_path / "hf" / "hub").glob("models--openai-community--gpt2/snapshots/*/model.safetensors"))


def test_dropout_is_the_checkpoints_and_never_merged_silently(hf_dir, tmp_path):
    assert GPT.from_pretrained(hf_dir).config.dropout == json.loads((hf_dir / "config.json").read_text())["resid_pdrop"]

    folder = _copy_with(tmp_path, hf_dir, lambda state: None)
    config = json.loads((folder / "config.json").read_text())
    config.update(embd_pdrop=0.0, attn_pdrop=0.1, resid_pdrop=0.2)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"different dropout rates \(embd_pdrop=0.0, attn_pdrop=0.1, resid_pdrop=0.2\)"
                                         r".*dropout=0.1"):
        GPT.from_pretrained(folder)
    assert GPT.from_pretrained(folder, dropout=0.05).config.dropout == 0.05  # chosen: loads


# ---------------------------------------------------------------------------- bad arguments
# What config.json holds is the file's content: a wrong field there is a ValueError about config.json. The caller's
# own arguments follow the rule of the whole package: a wrong type is a TypeError, a wrong value a ValueError.
def _hf(**fields) -> dict:
    return {"model_type": "gpt2", "vocab_size": 50, "n_positions": 8, "n_layer": 1, "n_head": 2, "n_embd": 8,
            **fields}


@pytest.mark.parametrize("call, error, message", [
    (lambda: config_from_hf([_hf()]), TypeError, "config_from_hf expects config.json as a dict .*, got list"),
    (lambda: config_from_hf(_hf(n_head="2")), ValueError,
     r"config\.json describes a model gpt2lite cannot build: GPTConfig\.n_head must be an integer, got str '2'"),
    (lambda: config_from_hf(_hf(n_layer=0)), ValueError, r"config\.json describes .*must be a positive integer"),
    (lambda: config_from_hf(_hf(resid_pdrop=None, embd_pdrop=None, attn_pdrop=None)), ValueError,
     r"config\.json describes .*GPTConfig\.dropout must be a number, got NoneType None"),
    (lambda: config_from_hf(_hf(n_embd=None, n_inner=32)), ValueError, r"n_inner=32 is not supported"),
    (lambda: config_from_hf(_hf(attn_pdrop=[0.1])), ValueError, "different dropout rates"),
    (lambda: config_from_hf(_hf(), dropout="0.1"), TypeError, r"GPTConfig\.dropout must be a number, got str '0\.1'"),
    (lambda: config_from_hf(_hf(), n_layer=2.0), TypeError, r"GPTConfig\.n_layer must be an integer, got float"),
    (lambda: config_from_hf(_hf(), depth=2), TypeError, "unexpected keyword argument 'depth'"),
    (lambda: config_from_hf(_hf(), dropout=1.5), ValueError,
     r"config\.json with the overrides \{'dropout': 1\.5\} describes .*dropout must be in \[0, 1\)"),
    (lambda: config_from_hf(_hf(n_embd=30), n_head=4), ValueError, r"n_embd \(30\) must be divisible by n_head \(4\)"),
    (lambda: config_to_hf({"n_layer": 1}), TypeError, "config_to_hf expects a GPTConfig, got dict"),
    (lambda: GPT.from_pretrained(5), TypeError, r"a checkpoint is a folder \(a str or Path\) or a hub id.*got int"),
])
def test_bad_arguments_give_type_or_value_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_config_json_that_holds_a_list_is_a_value_error(hf_dir, tmp_path):
    folder = _copy_with(tmp_path, hf_dir, lambda state: None)
    (folder / "config.json").write_text("[]")
    with pytest.raises(ValueError, match=r"config\.json must hold a JSON object \(\{\.\.\.\}\), got a list"):
        GPT.from_pretrained(folder)


def test_numpy_overrides_work_as_python_numbers(hf_dir):
    import numpy as np

    assert config_from_hf(_hf(), dropout=np.float64(0.25), n_layer=np.int64(3)) == config_from_hf(
        _hf(), dropout=0.25, n_layer=3)
    model = GPT.from_pretrained(hf_dir, dropout=np.float32(0.5))
    assert model.config.dropout == 0.5 and type(model.config.dropout) is float
    assert config_to_hf(model.config)["resid_pdrop"] == 0.5
