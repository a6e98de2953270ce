"""The training loop and its pieces: schedule, optimizer groups, accumulation, checkpoints, resume."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from gpt2lite import GPT, GPTConfig
from gpt2lite.data import load_shakespeare
from gpt2lite.device import autocast_dtype, get_device
from gpt2lite.training import (
    TrainConfig,
    TrainState,
    configure_optimizer,
    estimate_loss,
    latest_checkpoint,
    load_checkpoint,
    lr_at,
    save_checkpoint,
    train,
)


@pytest.fixture(scope="module")
def shakespeare():
    train_ids, val_ids, tok = load_shakespeare("char")
    return train_ids, val_ids


def tiny_gpt(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32, **overrides))


def quick_config(**overrides) -> TrainConfig:
    """A few cheap steps on the CPU, silent."""
    settings = dict(
        max_steps=6, batch_size=4, learning_rate=1e-2, min_lr=1e-3, warmup_steps=2, eval_interval=3,
        eval_iters=2, device="cpu", progress=False,
    )
    return TrainConfig(**{**settings, **overrides})


def fresh_state(model: GPT, cfg: TrainConfig, step: int = 0) -> TrainState:
    state = TrainState.fresh(model, cfg)
    state.step = step
    return state


# ---------------------------------------------------------------------------------- learning
def test_loss_decreases_on_shakespeare(shakespeare):
    model = tiny_gpt()
    cfg = quick_config(max_steps=40, batch_size=16, warmup_steps=5, eval_interval=20, eval_iters=5)
    history = train(model, *shakespeare, cfg)
    assert history.eval_step == [0, 20, 40]
    assert history.val_loss[0] == pytest.approx(math.log(65), abs=0.1)  # untrained: a uniform guess
    assert history.val_loss[-1] < history.val_loss[0] - 0.8
    assert sum(history.train_loss[-5:]) / 5 < sum(history.train_loss[:5]) / 5 - 0.5  # single batches: noisy
    assert history.step == list(range(40)) and len(history.lr) == len(history.tokens_per_sec) == 40
    assert model.training  # train() leaves the model ready for more training


def test_the_history_does_not_depend_on_log_interval(shakespeare):
    """Reading the losses back every 7 steps instead of after every step changes no value the History holds."""
    every_step = train(tiny_gpt(dropout=0.1), *shakespeare, quick_config(max_steps=17, log_interval=1))
    every_7 = train(tiny_gpt(dropout=0.1), *shakespeare, quick_config(max_steps=17, log_interval=7))
    for name in ("step", "train_loss", "lr", "eval_step", "eval_train_loss", "val_loss"):
        assert getattr(every_7, name) == getattr(every_step, name), name  # exact: the same floats
    assert every_7.step == list(range(17)) and len(every_7.tokens_per_sec) == 17


def _scalar_reads_between_optimizer_steps(prof) -> int:
    """Reads of one number back to Python (.item(), float(t), if t: ...) after the first optimizer step began and
    before the last one ended, outside the optimizer's own bookkeeping (AdamW on the CPU reads its step count)."""
    events = list(prof.events())
    steps = [e for e in events if e.name.startswith("Optimizer.step#")]
    start, end = steps[0].time_range.start, steps[-1].time_range.end

    def inside_optimizer(event) -> bool:
        while event is not None:
            if event.name.startswith("Optimizer."):
                return True
            event = event.cpu_parent
        return False

    return sum(1 for e in events if e.name == "aten::_local_scalar_dense" and start <= e.time_range.start <= end
               and not inside_optimizer(e))


def test_losses_are_read_back_once_per_log_interval_not_after_every_step(shakespeare, monkeypatch, tmp_path):
    transfers = []  # the length of each tensor read back with .tolist()
    tolist = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist", lambda self: transfers.append(self.numel()) or tolist(self))
    cfg = quick_config(max_steps=20, log_interval=7, eval_interval=100)  # estimates only at steps 0 and 20
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        history = train(tiny_gpt(), *shakespeare, cfg)
    assert _scalar_reads_between_optimizer_steps(prof) == 0  # an .item() per step would be 19 here
    assert transfers == [7, 7, 6]  # steps 1-7, 8-14, 15-20: ceil(20 / 7) reads, the last one at the end
    assert len(history.train_loss) == 20

    transfers.clear()  # an estimate and a checkpoint read the losses back too, so that the History is complete
    cfg = quick_config(max_steps=12, log_interval=5, eval_interval=4, checkpoint_interval=6, checkpoint_dir=tmp_path)
    train(tiny_gpt(), *shakespeare, cfg)
    assert transfers == [4, 1, 1, 2, 2, 2]  # at steps 4 (eval), 5 (log), 6 (checkpoint), 8 (eval), 10 (log), 12
    assert len(transfers) <= math.ceil(12 / 5) + 3 + 2  # + estimates + checkpoints


def test_estimate_loss_is_repeatable_and_restores_train_mode(shakespeare):
    model = tiny_gpt(dropout=0.5)
    splits = {"train": shakespeare[0], "val": shakespeare[1]}
    first = estimate_loss(model, splits, quick_config())
    assert set(first) == {"train", "val"}
    assert estimate_loss(model, splits, quick_config()) == first  # same batches, no dropout
    assert model.training
    model.eval()
    estimate_loss(model, splits, quick_config())
    assert not model.training


# ------------------------------------------------------------------------------ the pieces
def test_lr_schedule_warms_up_then_decays_to_min_lr():
    cfg = TrainConfig(max_steps=100, warmup_steps=10, learning_rate=1e-3, min_lr=1e-4)
    assert lr_at(0, cfg) == pytest.approx(1e-4)  # 1/10 of the way up
    assert lr_at(4, cfg) == pytest.approx(5e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3) and lr_at(10, cfg) == pytest.approx(1e-3)  # the peak
    assert lr_at(55, cfg) == pytest.approx((1e-3 + 1e-4) / 2)  # half-way down the cosine
    assert lr_at(100, cfg) == pytest.approx(1e-4) and lr_at(500, cfg) == pytest.approx(1e-4)
    lrs = [lr_at(s, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    early = dataclasses.replace(cfg, lr_decay_steps=50)
    assert lr_at(50, early) == pytest.approx(1e-4) and lr_at(30, early) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(0, dataclasses.replace(cfg, warmup_steps=0)) == pytest.approx(1e-3)


def test_weight_decay_only_on_matrices_and_the_tied_embedding_once():
    model = tiny_gpt()
    decay, no_decay = configure_optimizer(model, TrainConfig(weight_decay=0.1)).param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in decay["params"])
    assert "transformer.wte.weight" in decayed and "transformer.wpe.weight" in decayed
    assert "transformer.h.0.attn.c_attn.weight" in decayed and "transformer.h.1.mlp.c_proj.weight" in decayed
    assert sum(1 for p in decay["params"] if p is model.lm_head.weight) == 1  # tied: one tensor, once
    assert {names[id(p)] for p in no_decay["params"]} >= {"transformer.ln_f.weight", "transformer.h.0.attn.c_attn.bias"}
    counted = sum(p.numel() for group in (decay, no_decay) for p in group["params"])
    assert counted == model.num_parameters()


def test_grad_accumulation_gives_the_gradients_of_the_whole_batch(shakespeare):
    """One batch of 8 or two micro-batches of 4: the same examples, so the same gradients and loss."""
    grads = {}

    def record(optimizer, args, kwargs):  # runs just before each optimizer step
        grads[key] = [p.grad.clone() for group in optimizer.param_groups for p in group["params"]]

    handle = register_optimizer_step_pre_hook(record)
    try:
        histories = {}
        for key, (batch_size, accum) in {"8x1": (8, 1), "4x2": (4, 2), "2x4": (2, 4)}.items():
            cfg = quick_config(max_steps=1, batch_size=batch_size, grad_accum_steps=accum, grad_clip=0.0)
            histories[key] = train(tiny_gpt(), *shakespeare, cfg)
    finally:
        handle.remove()
    for key in ("4x2", "2x4"):
        assert histories[key].train_loss == pytest.approx(histories["8x1"].train_loss, abs=1e-6)
        for g, ref in zip(grads[key], grads["8x1"], strict=True):
            torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-7)


def test_bf16_autocast_follows_the_fp32_curve(shakespeare):
    fp32 = train(tiny_gpt(), *shakespeare, quick_config(dtype="fp32"))
    bf16 = train(tiny_gpt(), *shakespeare, quick_config(dtype="bf16"))  # autocast works on the CPU too
    assert bf16.train_loss != fp32.train_loss  # the matmuls really ran in bf16...
    assert bf16.train_loss == pytest.approx(fp32.train_loss, abs=0.02)  # ...and barely changed the losses


# ----------------------------------------------------------------------- checkpoints and resume
@pytest.mark.parametrize("log_interval", [1, 4])  # 4: the checkpoint of step 6 is taken half-way through an interval
def test_resuming_follows_the_same_loss_curve_exactly(shakespeare, tmp_path, log_interval):
    cfg = quick_config(max_steps=12, lr_decay_steps=12, checkpoint_interval=3, log_interval=log_interval)
    straight = train(tiny_gpt(dropout=0.1), *shakespeare, dataclasses.replace(cfg, checkpoint_dir=tmp_path / "a"))
    straight_model = tiny_gpt(dropout=0.1)  # reload the uninterrupted run's final weights for comparison
    load_checkpoint(fresh_state(straight_model, cfg), tmp_path / "a" / "step-000012")

    first_half = dataclasses.replace(cfg, max_steps=6, checkpoint_dir=tmp_path / "b")
    train(tiny_gpt(dropout=0.1), *shakespeare, first_half)
    resumed_model = tiny_gpt(seed=1, dropout=0.1)  # different initial weights: the checkpoint must replace them
    resumed = train(resumed_model, *shakespeare, dataclasses.replace(cfg, checkpoint_dir=tmp_path / "b"), resume=True)

    assert resumed.step == straight.step == list(range(12))
    assert resumed.train_loss == straight.train_loss  # exact, not approximate: same batches, dropout, updates
    assert resumed.lr == straight.lr
    assert resumed.eval_step == straight.eval_step == [0, 3, 6, 9, 12]
    assert resumed.val_loss == straight.val_loss
    assert len(resumed.tokens_per_sec) == 12 and all(rate > 0 for rate in resumed.tokens_per_sec)
    for (name, a), b in zip(resumed_model.state_dict().items(), straight_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["step-000012"]  # older ones and temp folders gone


def test_resume_without_a_checkpoint_starts_afresh_and_a_new_run_never_overwrites_one(shakespeare, tmp_path):
    cfg = quick_config(max_steps=2, checkpoint_dir=tmp_path)
    history = train(tiny_gpt(), *shakespeare, cfg, resume=True)  # nothing to resume yet
    assert history.step == [0, 1] and latest_checkpoint(tmp_path).name == "step-000002"
    with pytest.raises(ValueError, match="already holds a checkpoint.*resume=True"):
        train(tiny_gpt(), *shakespeare, cfg)
    with pytest.raises(ValueError, match="needs TrainConfig.checkpoint_dir"):
        train(tiny_gpt(), *shakespeare, quick_config(), resume=True)


def test_a_crash_while_saving_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    cfg = quick_config()
    model = tiny_gpt()
    save_checkpoint(fresh_state(model, cfg, step=2), cfg, tmp_path)
    saved = {k: v.clone() for k, v in model.state_dict().items()}

    def crash(tensors, filename, *args, **kwargs):  # dies half-way through writing a file
        with open(filename, "wb") as f:
            f.write(b"\x00" * 100)
        raise OSError("No space left on device")

    with torch.no_grad():
        model.transformer.wte.weight.add_(1.0)  # the state has moved on since step 2
    monkeypatch.setattr("gpt2lite.training.checkpoints.save_file", crash)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(fresh_state(model, cfg, step=4), cfg, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step-000002"]  # no temp folder, no step-000004

    (tmp_path / ".tmp-killed").mkdir()  # what a kill -9 mid-write would leave: ignored
    assert latest_checkpoint(tmp_path) == tmp_path / "step-000002"
    restored = fresh_state(tiny_gpt(seed=1), cfg)
    load_checkpoint(restored, tmp_path / "step-000002")
    assert restored.step == 2
    for name, value in restored.model.state_dict().items():
        assert torch.equal(value, saved[name]), name


def test_loading_a_checkpoint_into_a_different_model_is_a_clear_error(tmp_path):
    cfg = quick_config()
    path = save_checkpoint(fresh_state(tiny_gpt(), cfg, step=1), cfg, tmp_path)
    other = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=1, n_head=2, n_embd=32))
    with pytest.raises(ValueError, match=r"different model.*'n_layer': \(2, 1\)"):
        load_checkpoint(fresh_state(other, cfg), path)
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        load_checkpoint(fresh_state(tiny_gpt(), cfg), tmp_path)


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "field, value, error, message",
    [
        ("max_steps", 0, ValueError, r"TrainConfig\.max_steps must be an integer >= 1, got 0"),
        ("max_steps", "10", TypeError, r"TrainConfig\.max_steps must be an integer, got str '10'"),
        ("batch_size", 2.5, TypeError, r"TrainConfig\.batch_size must be an integer, got float 2\.5"),
        ("block_size", 0, ValueError, "block_size must be an integer >= 1"),
        ("grad_accum_steps", True, TypeError, "grad_accum_steps must be an integer, got bool"),
        ("warmup_steps", -1, ValueError, "warmup_steps must be an integer >= 0"),
        ("lr_decay_steps", 0, ValueError, "lr_decay_steps must be an integer >= 1"),
        ("log_interval", 0, ValueError, r"TrainConfig\.log_interval must be an integer >= 1, got 0"),
        ("log_interval", 2.0, TypeError, "log_interval must be an integer, got float"),
        ("seed", -1, ValueError, "seed must be an integer >= 0"),
        ("min_lr", 1.0, ValueError, "min_lr must be between 0 and learning_rate"),
        ("learning_rate", 0.0, ValueError, "learning_rate must be positive"),
        ("learning_rate", math.nan, ValueError, "learning_rate must be positive"),
        ("learning_rate", math.inf, ValueError, "learning_rate must be positive and finite"),
        ("learning_rate", "1e-3", TypeError, r"TrainConfig\.learning_rate must be a number, got str '1e-3'"),
        ("weight_decay", None, TypeError, "weight_decay must be a number"),
        ("betas", (0.9, 1.0), ValueError, "betas must be two numbers"),
        ("betas", (0.9,), ValueError, "betas must be two numbers"),
        ("betas", None, TypeError, "betas must be two numbers in \\[0, 1\\).*got NoneType"),
        ("betas", ("0.9", 0.95), TypeError, "betas must be a number, got str"),
        ("grad_clip", -1.0, ValueError, "grad_clip must be >= 0"),
        ("dtype", "fp8", ValueError, "dtype must be one of"),
        ("dtype", None, TypeError, "dtype must be one of .*got NoneType None"),
        ("device", 0, TypeError, "device must be a string"),
        ("checkpoint_dir", 5, TypeError, "checkpoint_dir must be a folder path"),
        ("progress", "yes", TypeError, "progress must be True or False"),
    ],
)
def test_invalid_train_config_says_what_is_wrong(field, value, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**{"max_steps": 100, field: value})


def test_train_config_accepts_numpy_numbers_and_stores_python_ones():
    cfg = TrainConfig(max_steps=np.int64(100), batch_size=np.int32(8), learning_rate=np.float64(3e-3),
                      min_lr=np.float32(1e-4), betas=[np.float64(0.9), 0.99], log_interval=np.int64(5))
    assert (cfg.max_steps, cfg.batch_size, cfg.log_interval) == (100, 8, 5)
    assert type(cfg.max_steps) is int and type(cfg.learning_rate) is float and type(cfg.min_lr) is float
    assert cfg.betas == (0.9, 0.99) and all(type(b) is float for b in cfg.betas)
    assert lr_at(99, cfg) == pytest.approx(lr_at(99, TrainConfig(max_steps=100, learning_rate=3e-3, min_lr=1e-4)))


def test_train_rejects_data_that_does_not_fit_the_model(shakespeare):
    train_ids, val_ids = shakespeare
    with pytest.raises(ValueError, match="longer than the model's context"):
        train(tiny_gpt(), train_ids, val_ids, quick_config(block_size=32))
    with pytest.raises(ValueError, match="vocab_size=tokenizer.vocab_size"):
        train(tiny_gpt(), train_ids + 100, val_ids, quick_config())
    with pytest.raises(ValueError, match="fewer than block_size"):
        train(tiny_gpt(), train_ids, val_ids[:10], quick_config())


# ---------------------------------------------------------------------------------------- device
def test_device_choice_and_mixed_precision_on_cpu(monkeypatch):
    monkeypatch.delenv("GPT2LITE_DEVICE", raising=False)
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("GPT2LITE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        get_device("gpu")
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu) is None  # fp32 by default on the CPU
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(ValueError, match="fp16 mixed precision needs a CUDA GPU"):
        autocast_dtype(cpu, "fp16")
