"""Checks that need a CUDA GPU. They are skipped on CPU-only machines (tests/conftest.py) and run wherever one exists."""

import pytest
import torch
import torch.nn.functional as F

from gpt2lite import GPT, GPTConfig
from gpt2lite.training import TrainConfig, train

pytestmark = pytest.mark.gpu

CONFIG = GPTConfig(vocab_size=101, block_size=64, n_layer=2, n_head=4, n_embd=64)


def tiny(**changes) -> GPT:
    torch.manual_seed(0)
    return GPT(CONFIG.replace(**changes)).eval()


def test_generation_on_cuda_equals_cpu():
    cpu = tiny()
    gpu = tiny().cuda()
    idx = torch.randint(0, 101, (2, 10), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(gpu(idx.cuda()).cpu(), cpu(idx), atol=1e-4, rtol=1e-4)
    assert torch.equal(gpu.generate(idx.cuda(), 30, temperature=0).cpu(), cpu.generate(idx, 30, temperature=0))


def test_flash_attention_path_in_bf16_matches_fp32_reference():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = torch.randn(3, 2, 4, 128, 64, device="cuda").unbind(0)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):  # fails if flash attention cannot run these inputs
        got = F.scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), is_causal=True)
    torch.testing.assert_close(got.float(), expected, atol=2e-2, rtol=2e-2)
    model = tiny().cuda()
    idx = torch.randint(0, 101, (2, 64), device="cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16), sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        fast = model(idx).float()
    with torch.no_grad():
        torch.testing.assert_close(fast, model(idx), atol=5e-2, rtol=5e-2)


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_mixed_precision_training_steps(dtype):
    if dtype == "bf16" and torch.cuda.get_device_capability()[0] < 8:
        pytest.skip("this GPU has no native bf16")
    data = torch.randint(0, 101, (5000,), generator=torch.Generator().manual_seed(0)) % 10  # a 10-token language
    model = tiny().train()
    cfg = TrainConfig(max_steps=40, batch_size=8, learning_rate=3e-3, min_lr=3e-4, warmup_steps=5, eval_interval=20,
                      eval_iters=2, device="cuda", dtype=dtype, progress=False)
    history = train(model, data[:4000], data[4000:], cfg)
    assert all(torch.isfinite(torch.tensor(history.train_loss)))
    assert history.val_loss[-1] < history.val_loss[0] - 1.0  # from ln(101) = 4.6 towards ln(10) = 2.3
