"""Reading and writing GPT-2 checkpoints in Hugging Face's format (config.json + model.safetensors).

OpenAI's GPT-2 (and transformers' GPT2LMHeadModel) stores its four projection matrices as "Conv1D"
weights of shape (in, out); nn.Linear keeps (out, in). Apart from transposing those four, a GPT-2
checkpoint maps one-to-one onto our modules, because we use the same names.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import GPTConfig
from .model import GPT

CONV1D_WEIGHTS = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
# Buffers some checkpoints carry (the causal mask, a large negative constant): not weights.
NON_WEIGHTS = (".attn.bias", ".attn.masked_bias")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HUB_NAMES = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
GELU_TANH = ("gelu_new", "gelu_pytorch_tanh")  # the activations that are GPT-2's tanh-approximate GELU
HF_REQUIRED = ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd")  # config.json fields without a default
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# ---------------------------------------------------------------------------- finding a checkpoint
def _weights_file(directory: Path) -> Path | None:
    if not (directory / "config.json").is_file():
        return None
    return next((directory / f for f in WEIGHT_FILES if (directory / f).is_file()), None)


def resolve_checkpoint(name_or_dir: str | Path) -> Path:
    """The local directory holding the checkpoint: the argument itself, or a hub download.

    A path counts as a local checkpoint only if it is a directory with config.json and weights,
    so a stray folder called "gpt2" in the working directory does not hide the hub model.
    """
    if not isinstance(name_or_dir, (str, os.PathLike)):
        raise TypeError(f"a checkpoint is a folder (a str or Path) or a hub id such as 'gpt2', "
                        f"got {type(name_or_dir).__name__}")
    path = Path(name_or_dir).expanduser()
    if path.is_dir() and _weights_file(path) is not None:
        return path
    text = str(name_or_dir)
    if isinstance(name_or_dir, Path) or not _HUB_ID.match(text):
        if path.is_dir():
            raise FileNotFoundError(
                f"{path} holds no checkpoint: expected config.json and one of {', '.join(WEIGHT_FILES)}"
            )
        raise FileNotFoundError(f"no checkpoint directory at {path}")
    return _download_from_hub(text)


def _download_from_hub(repo_id: str) -> Path:
    if repo_id in HUB_NAMES:
        repo_id = f"openai-community/{repo_id}"
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise ImportError(
            f"downloading {repo_id!r} needs huggingface_hub: `pip install huggingface_hub`, "
            "or pass a local directory holding config.json and model.safetensors"
        ) from exc
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["config.json", "model.safetensors"]))
    except Exception as exc:  # offline, unknown repo, rate limit, ...: all end the same way for the user
        raise OSError(
            f"could not get {repo_id!r} from the Hugging Face Hub ({type(exc).__name__}: {exc}). "
            "With internet, run GPT.from_pretrained once to fill the cache (~/.cache/huggingface); "
            "offline, pass a local directory holding config.json and model.safetensors."
        ) from exc


# ---------------------------------------------------------------------------- config
def config_from_hf(hf: dict, **overrides) -> GPTConfig:
    """Our GPTConfig from a Hugging Face GPT-2 config.json (as a dict); refuses what we cannot represent.

    What the dict holds is the file's content, so a wrong field in it (``"n_head": "12"``) is a ValueError about
    config.json; a wrong type among the ``overrides`` is the caller's own, a TypeError as for ``GPTConfig``.
    """
    if not isinstance(hf, dict):
        raise TypeError(f"config_from_hf expects config.json as a dict (json.load of it), got {type(hf).__name__}")
    if hf.get("model_type") != "gpt2":
        raise ValueError(f"not a GPT-2 checkpoint: config.json has model_type={hf.get('model_type')!r}")
    act = hf.get("activation_function", "gelu_new")
    if act not in GELU_TANH:
        raise ValueError(f"activation_function {act!r} is not supported; gpt2lite implements {GELU_TANH}")
    missing = [key for key in HF_REQUIRED if key not in hf]
    if missing:
        raise ValueError(f"config.json lacks {', '.join(missing)}; a GPT-2 config.json gives {', '.join(HF_REQUIRED)}")
    n_inner, n_embd = hf.get("n_inner"), hf["n_embd"]
    if n_inner is not None and (not isinstance(n_embd, int) or n_inner != 4 * n_embd):  # a bad n_embd: see below
        raise ValueError(f"n_inner={n_inner} is not supported; gpt2lite's MLP is 4 * n_embd wide")
    if not hf.get("scale_attn_weights", True) or hf.get("scale_attn_by_inverse_layer_idx", False):
        raise ValueError("only GPT-2's attention scaling (1/sqrt(head_dim)) is supported")
    if not hf.get("tie_word_embeddings", True):
        raise ValueError("untied input/output embeddings are not supported (GPT-2 ties them)")
    # Hugging Face keeps three dropout rates (embeddings, attention, residual); gpt2lite has one. GPT-2's are all 0.1.
    # Rates that differ are not merged behind the reader's back: they must choose one.
    rates = {name: hf.get(name, 0.1) for name in ("embd_pdrop", "attn_pdrop", "resid_pdrop")}
    if "dropout" not in overrides and any(rate != rates["resid_pdrop"] for rate in rates.values()):
        found = ", ".join(f"{name}={rate}" for name, rate in rates.items())
        raise ValueError(f"config.json has different dropout rates ({found}); gpt2lite uses one for all three: "
                         "choose it, e.g. from_pretrained(..., dropout=0.1)")
    fields = dict(
        vocab_size=hf["vocab_size"],
        block_size=hf["n_positions"],
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        dropout=rates["resid_pdrop"],  # used only when training: from_pretrained returns the model in eval mode
        layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5),
    )
    try:
        GPTConfig(**overrides)  # the overrides alone: a wrong type (or an unknown field) among them is a TypeError
    except ValueError:
        pass  # a value that is wrong only together with the file's fields is reported below
    try:
        return GPTConfig(**{**fields, **overrides})
    except (TypeError, ValueError) as exc:  # e.g. "n_head": "12" or "resid_pdrop": null
        source = f"config.json with the overrides {overrides}" if overrides else "config.json"
        raise ValueError(f"{source} describes a model gpt2lite cannot build: {exc}") from exc


def config_to_hf(config: GPTConfig) -> dict:
    """A config.json that transformers reads as GPT2LMHeadModel."""
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config_to_hf expects a GPTConfig, got {type(config).__name__}")
    if not (config.bias and config.pre_ln and config.causal):
        raise ValueError(
            "only GPT-2-shaped models can be saved in Hugging Face's GPT-2 format "
            "(bias=True, pre_ln=True, causal=True)"
        )
    hf = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": config.vocab_size,
        "n_positions": config.block_size,
        "n_embd": config.n_embd,
        "n_layer": config.n_layer,
        "n_head": config.n_head,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "attn_pdrop": config.dropout,
        "layer_norm_epsilon": config.layer_norm_eps,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "use_cache": True,
    }
    eot = 50256 if config.vocab_size > 50256 else None  # GPT-2's <|endoftext|> starts and ends documents
    hf.update(bos_token_id=eot, eos_token_id=eot)
    return hf


# ---------------------------------------------------------------------------- weights
def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file, or from a .bin without unpickling arbitrary objects."""
    try:
        if path.suffix == ".safetensors":
            return load_file(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a readable safetensors file (corrupted or truncated?): {exc}") from exc
    except Exception as exc:  # weights_only refuses pickled code; a truncated zip fails too
        raise ValueError(f"{path} is not a plain tensor checkpoint (corrupted, or it holds Python objects): {exc}") from exc
    tensors_by_name = isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    if not tensors_by_name or not all(isinstance(k, str) for k in state):
        raise ValueError(f"{path} is no GPT-2 checkpoint: it does not hold a state dict (a dict of names to tensors)")
    return state


def hf_to_ours(state: dict[str, torch.Tensor], model: GPT) -> dict[str, torch.Tensor]:
    """Rename/transpose a GPT-2 state dict onto ``model``; every tensor is checked by name and shape."""
    ours = {}
    for key, tensor in state.items():
        if key.endswith(NON_WEIGHTS):
            continue
        # OpenAI's original upload has no "transformer." prefix; transformers' own saves do.
        name = key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"
        if name.endswith(CONV1D_WEIGHTS) and tensor.dim() == 2:  # other shapes fail the shape check below
            tensor = tensor.t().contiguous()
        ours[name] = tensor
    expected = model.state_dict()
    head = ours.pop("lm_head.weight", None)
    if head is not None and "transformer.wte.weight" in ours and not torch.equal(head, ours["transformer.wte.weight"]):
        raise ValueError("lm_head.weight differs from transformer.wte.weight; gpt2lite ties the two (as GPT-2 does)")
    missing = sorted(set(expected) - set(ours) - {"lm_head.weight"})
    extra = sorted(set(ours) - set(expected))
    if missing or extra:
        raise ValueError(f"checkpoint does not match the model: missing tensors {missing[:5]}, unexpected tensors {extra[:5]}")
    for name, tensor in ours.items():
        if tensor.shape != expected[name].shape:
            raise ValueError(
                f"tensor {name!r} has shape {tuple(tensor.shape)} in the checkpoint but the model expects "
                f"{tuple(expected[name].shape)}"
            )
        if not tensor.is_floating_point():
            raise ValueError(f"tensor {name!r} has dtype {tensor.dtype} in the checkpoint; weights are floating point")
        if not torch.isfinite(tensor).all():
            raise ValueError(
                f"tensor {name!r} holds NaN or infinite values: the checkpoint is corrupted (or was saved from a "
                "diverged training run), and the model would predict garbage"
            )
    ours["lm_head.weight"] = ours["transformer.wte.weight"]
    return ours


def load_pretrained(name_or_dir: str | Path, **overrides) -> GPT:
    """A GPT with the weights of a Hugging Face GPT-2 checkpoint, in eval mode.

    ``overrides`` replace config fields (e.g. ``dropout=0.0`` to fine-tune without dropout,
    ``attn_impl="explicit"``). The dropout rate is the checkpoint's (0.1 for OpenAI's GPT-2), which matters only
    once you train; a checkpoint whose three rates differ asks you to pass ``dropout``.
    """
    directory = resolve_checkpoint(name_or_dir)
    try:
        hf_config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{directory / 'config.json'} is not valid JSON: {exc}") from exc
    if not isinstance(hf_config, dict):  # the file's content, not an argument: a ValueError
        raise ValueError(f"config.json must hold a JSON object ({{...}}), got a {type(hf_config).__name__}")
    config = config_from_hf(hf_config, **overrides)
    with torch.device("meta"):  # no memory for random weights we would overwrite at once
        model = GPT(config)
    state = hf_to_ours(read_weights(_weights_file(directory)), model)
    model.load_state_dict(state, assign=True)
    model.lm_head.weight = model.transformer.wte.weight  # assign=True replaced the parameters: tie them again
    return model.float().eval()


def save_pretrained(model: GPT, directory: str | Path) -> Path:
    """Write ``model`` as config.json + model.safetensors, the layout transformers loads."""
    hf_config = config_to_hf(model.config)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":  # tied to wte: stored once
            continue
        if name.endswith(CONV1D_WEIGHTS):
            tensor = tensor.t()
        tensors[name] = tensor.detach().cpu().contiguous()
    hf_config["torch_dtype"] = str(model.transformer.wte.weight.dtype).removeprefix("torch.")
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    return directory
