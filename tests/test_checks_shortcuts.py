"""No check can be passed by handing back the library's own answer: every check whose answer exists ready-made (in
gpt2lite, in torch, or in the check's own reference) refuses a solution that calls it, naming the call, however it
was imported. And the chapters' own solutions still pass every check."""

import ast
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import embedding, layer_norm, nll_loss
from torch.nn.functional import scaled_dot_product_attention as sdpa

import gpt2lite.attention
import gpt2lite.checks
import gpt2lite.data
import gpt2lite.generate
import gpt2lite.pretrained
import gpt2lite.train
from gpt2lite import GPT, GPTConfig, course
from gpt2lite.attention import causal_mask, explicit_attention
from gpt2lite.checks import CheckFailed
from gpt2lite.checks import attention as ch4
from gpt2lite.checks import block as ch5
from gpt2lite.checks import embeddings as ch3
from gpt2lite.checks import language_models as ch1
from gpt2lite.checks import pretrained as ch9
from gpt2lite.checks import sampling as ch8
from gpt2lite.checks import tokenization as ch2
from gpt2lite.checks import training as ch7
from gpt2lite.checks._core import meta_model
from gpt2lite.generate import filter_logits
from gpt2lite.model import Block
from gpt2lite.pretrained import hf_to_ours
from gpt2lite.tokenizer import BPETokenizer
from gpt2lite.train import TrainConfig, configure_optimizer, estimate_loss, lr_at, next_token_loss

BOOK = Path(__file__).resolve().parents[1] / "book"
ASSIGNED_LAYER_NORM = F.layer_norm  # an alias made before any check ran


# ------------------------------------------------------------------------------------------- the shortcuts
def _picked(logits, targets):
    return logits.log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)


def _layernorm_module(x, gain, bias, eps):
    ln = torch.nn.LayerNorm(x.size(-1), eps=eps)
    with torch.no_grad():
        ln.weight.copy_(gain)
        ln.bias.copy_(bias)
    return ln(x)


def _mha(q, k, v):
    B, H, T, hd = q.shape
    mha = nn.MultiheadAttention(H * hd, H, batch_first=True)
    return mha(q, k, v)[0]


def _tokenizer_bytes(ids, merges):
    tok = BPETokenizer()
    tok.merges = dict(merges)
    tok._build_vocab()
    return tok.decode_bytes(ids)


def _trained_merge(text):
    tok = BPETokenizer()
    tok.train(text, vocab_size=257)
    return next(iter(tok.merges), None)


def _gpt2_merges(ranks):
    return {pair: i for pair, i in BPETokenizer.from_tiktoken("gpt2").merges.items() if i < len(ranks)}


def _rotation(k, C):
    freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float64) / C)
    return ch3._rotation(k, C, freq, (torch.arange(0, C, 2), torch.arange(1, C, 2))).float()


def _lr_scheduler(step, cfg):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, cfg) / cfg.learning_rate)
    for _ in range(step):
        sched.step()
    return opt.param_groups[0]["lr"]


def _by_configure_optimizer(model):
    decay, other = (g["params"] for g in configure_optimizer(model, TrainConfig()).param_groups)
    return len(decay), sum(p.numel() for p in decay), len(other), sum(p.numel() for p in other)


def _by_estimate_loss(model, data, B, T, iters, seed):
    cfg = TrainConfig(batch_size=B, block_size=T, eval_iters=iters, seed=seed, device="cpu")
    return estimate_loss(model, {"val": data}, cfg)["val"]


def _by_hf_to_ours(state):
    return {key for key in state if hf_to_ours({key: state[key]}, None)}


def _block_with_layer_norm(x, block):
    h = F.layer_norm(x, (x.size(-1),), block.ln_1.weight, block.ln_1.bias)
    return x + h


def _pre_ln_count(C):
    with torch.device("meta"):
        return sum(p.numel() for p in Block(GPTConfig(n_embd=C, n_head=1)).parameters())


def _masked_nll(logits, targets):
    return nll_loss(logits.log_softmax(-1).flatten(0, 1), targets.flatten(), ignore_index=-100)


def _meta_count(V, T, L, C, pre_ln=True):
    return meta_model(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=C, pre_ln=pre_ln)
                      ).num_parameters()


def _gpt_count(V, T, L, C, pre_ln=True):
    with torch.device("meta"):
        return GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=C, pre_ln=pre_ln)).num_parameters()


def _own_trigram(ids, V):
    counts = torch.bincount((ids[:-2] * V + ids[1:-1]) * V + ids[2:], minlength=V**3).view(V, V, V) + 1.0
    return counts / counts.sum(-1, keepdim=True)


SHORTCUTS = [
    # chapter 1
    ("check_uniform_nll", lambda t, V: F.cross_entropy(torch.zeros(len(t), V), t).item(), r"F\.cross_entropy"),
    ("check_uniform_nll", lambda t, V: nll_loss(torch.full((len(t), V), -math.log(V)), t).item(), r"F\.nll_loss"),
    ("check_uniform_nll", lambda t, V: nn.CrossEntropyLoss()(torch.zeros(len(t), V), t).item(),
     r"nn\.CrossEntropyLoss"),
    ("check_trigram", (ch1._reference_trigram, lambda P3, ids: -P3.log()[ids[:-2], ids[1:-1], ids[2:]].mean()),
     r"gpt2lite\.checks\.language_models\._reference_trigram"),
    ("check_trigram", (_own_trigram, lambda P3, ids: F.nll_loss(P3.log()[ids[:-2], ids[1:-1]], ids[2:])),
     r"F\.nll_loss"),
    # chapter 2
    ("check_to_bytes", _tokenizer_bytes, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?__init__"),
    ("check_to_bytes", lambda ids, merges: ch2._expand(ids, merges), r"gpt2lite\.checks\.tokenization\._expand"),
    ("check_first_merge", _trained_merge, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?__init__"),
    ("check_first_merge", lambda text: ch2._trained_first_merge(text), r"_trained_first_merge"),
    ("check_stream_decode", lambda ids, vocab: ch2._stream(ids, vocab), r"gpt2lite\.checks\.tokenization\._stream"),
    ("check_recover_merges", _gpt2_merges, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?from_tiktoken"),
    ("check_recover_merges", lambda ranks: ch2._recover(ranks), r"gpt2lite\.checks\.tokenization\._recover"),
    # chapter 3
    ("check_embed_onehot", lambda idx, W: F.embedding(idx, W), r"F\.embedding"),
    ("check_embed_onehot", lambda idx, W: embedding(idx, W), r"F\.embedding"),
    ("check_embed_onehot", lambda idx, W: torch.embedding(W, idx), r"torch\.embedding"),
    ("check_embed_onehot", lambda idx, W: nn.Embedding.from_pretrained(W)(idx), r"nn\.Embedding\.from_pretrained"),
    ("check_embed_onehot", lambda idx, W: W.index_select(0, idx.flatten()).view(*idx.shape, -1),
     r"Tensor\.index_select"),
    ("check_embedding_params", lambda cfg: meta_model(cfg).transformer.wte.weight.numel()
     + meta_model(cfg).transformer.wpe.weight.numel(), r"meta_model"),
    ("check_embedding_params", lambda cfg: nn.Embedding(cfg.vocab_size, cfg.n_embd, device="meta").weight.numel(),
     r"nn\.Embedding"),
    ("check_nearest", lambda W, i, k: ch3._reference_nearest(F.normalize(W, dim=-1) @ F.normalize(W, dim=-1)[i], i, k),
     r"gpt2lite\.checks\.embeddings\._reference_nearest"),
    ("check_shift_matrix", _rotation, r"gpt2lite\.checks\.embeddings\._rotation"),
    # chapter 4
    ("check_causal_mask", lambda T: causal_mask(T, T), r"gpt2lite\.attention\.causal_mask"),
    ("check_causal_mask", lambda T: gpt2lite.attention.causal_mask(T, T), r"gpt2lite\.attention\.causal_mask"),
    ("check_causal_attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     r"F\.scaled_dot_product_attention"),
    ("check_causal_attention", lambda q, k, v: sdpa(q, k, v, is_causal=True), r"F\.scaled_dot_product_attention"),
    ("check_causal_attention", lambda q, k, v: torch._C._nn.scaled_dot_product_attention(q, k, v, is_causal=True),
     r"F\.scaled_dot_product_attention"),
    ("check_causal_attention", lambda q, k, v: explicit_attention(q, k, v)[0],
     r"gpt2lite\.attention\.explicit_attention"),
    ("check_causal_attention", lambda q, k, v: gpt2lite.attention.explicit_attention(q, k, v)[0],
     r"gpt2lite\.attention\.explicit_attention"),
    ("check_causal_attention", _mha, r"nn\.MultiheadAttention"),
    ("check_causal_attention", lambda q, k, v: ch4._attention_mistakes(q, k, v),
     r"gpt2lite\.checks\.attention\._attention_mistakes"),
    # chapter 5
    ("check_layernorm", lambda x, g, b, eps: F.layer_norm(x, (x.size(-1),), g, b, eps), r"F\.layer_norm"),
    ("check_layernorm", lambda x, g, b, eps: layer_norm(x, (x.size(-1),), g, b, eps), r"F\.layer_norm"),
    ("check_layernorm", lambda x, g, b, eps: ASSIGNED_LAYER_NORM(x, (x.size(-1),), g, b, eps), r"F\.layer_norm"),
    ("check_layernorm", lambda x, g, b, eps: torch.layer_norm(x, (x.size(-1),), g, b, eps), r"torch\.layer_norm"),
    ("check_layernorm", _layernorm_module, r"nn\.LayerNorm"),
    ("check_gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), r"F\.gelu"),
    ("check_gelu_tanh", lambda x: torch._C._nn.gelu(x, approximate="tanh"), r"F\.gelu"),
    ("check_gelu_tanh", lambda x: torch.nn.GELU(approximate="tanh")(x), r"nn\.GELU"),
    ("check_block_params", _pre_ln_count, r"Block"),
    ("check_block_params", lambda C: meta_model(GPTConfig(n_embd=C, n_head=1, n_layer=1)).num_parameters(),
     r"meta_model"),
    ("check_block_params", lambda C: ch5._block_parameters(C), r"gpt2lite\.checks\.block\._block_parameters"),
    ("check_pre_ln_block", lambda x, block: block.forward(x)[0], r"block"),
    ("check_pre_ln_block", lambda x, block: x + block.attn.c_attn(x)[..., :x.size(-1)],
     r"block\.attn\.c_attn"),
    ("check_pre_ln_block", _block_with_layer_norm, r"F\.layer_norm"),
    ("check_pre_ln_block", lambda x, block: ch5._by_hand(x, block), r"gpt2lite\.checks\.block\._by_hand"),
    # chapter 6
    ("check_weight_bytes", lambda cfg, dtype: meta_model(cfg).num_parameters() * dtype.itemsize, r"meta_model"),
    ("check_weight_bytes", lambda cfg, dtype: GPT(cfg).num_parameters() * dtype.itemsize, r"GPT"),
    ("check_lm_loss", lambda lg, t: F.cross_entropy(lg.flatten(0, 1), t.flatten()), r"F\.cross_entropy"),
    ("check_lm_loss", lambda lg, t: torch._C._nn.cross_entropy_loss(lg.flatten(0, 1), t.flatten()),
     r"torch\._C\._nn\.cross_entropy_loss"),
    ("check_lm_loss", lambda lg, t: next_token_loss(lambda x: lg, None, t), r"gpt2lite\.train\.next_token_loss"),
    ("check_lm_loss", lambda lg, t: gpt2lite.train.next_token_loss(lambda x: lg, None, t),
     r"gpt2lite\.train\.next_token_loss"),
    ("check_count_parameters", lambda cfg: meta_model(cfg).num_parameters(), r"meta_model"),
    ("check_count_parameters", lambda cfg: GPT(cfg).num_parameters(), r"GPT"),
    # chapter 7
    ("check_lr_schedule", lambda step, cfg: lr_at(step, cfg), r"gpt2lite\.train\.lr_at"),
    ("check_lr_schedule", lambda step, cfg: gpt2lite.train.lr_at(step, cfg), r"gpt2lite\.train\.lr_at"),
    ("check_lr_schedule", _lr_scheduler, r"torch\.optim\.lr_scheduler\."),
    ("check_lr_schedule", lambda step, cfg: ch7._schedule(step, cfg), r"gpt2lite\.checks\.training\._schedule"),
    ("check_get_batch", lambda data, B, T, g: gpt2lite.data.get_batch(data, B, T, g), r"gpt2lite\.data\.get_batch"),
    ("check_get_batch", lambda data, B, T, g: ch7.get_batch(data, B, T, g), r"gpt2lite\.data\.get_batch"),
    ("check_decay_split", _by_configure_optimizer, r"gpt2lite\.train\.configure_optimizer"),
    ("check_decay_split", lambda model: ch7._split(list(model.parameters())), r"gpt2lite\.checks\.training\._split"),
    ("check_estimate_loss", _by_estimate_loss, r"gpt2lite\.train\.estimate_loss"),
    # chapter 8
    ("check_top_k_filter", lambda logits, k: filter_logits(logits, top_k=k), r"gpt2lite\.generate\.filter_logits"),
    ("check_top_k_filter", lambda logits, k: gpt2lite.generate.filter_logits(logits, top_k=k),
     r"gpt2lite\.generate\.filter_logits"),
    ("check_top_p_filter", lambda logits, p: filter_logits(logits, top_p=p), r"gpt2lite\.generate\.filter_logits"),
    ("check_top_p_filter", lambda logits, p: gpt2lite.generate.filter_logits(logits, top_p=p),
     r"gpt2lite\.generate\.filter_logits"),
    ("check_top_p_filter", lambda logits, p: ch8._nucleus_mistakes(logits, p), r"_nucleus_mistakes"),
    ("check_greedy_decode", lambda model, idx, n: model.generate(idx, n, temperature=0, use_cache=False),
     r"model\.generate"),
    ("check_greedy_decode", lambda model, idx, n: gpt2lite.generate.generate(model, idx, n, temperature=0),
     r"model\.generate"),
    ("check_kv_generate", lambda model, idx, n: (model.generate(idx, n, temperature=0), None),
     r"model\.generate"),
    # chapter 9
    ("check_keys_to_transpose", _by_hf_to_ours, r"gpt2lite\.pretrained\.hf_to_ours"),
    ("check_convert_entry", lambda key, tensor: ch9._convert(key, tensor), r"gpt2lite\.checks\.pretrained\._convert"),
    ("check_checkpoint_parameters", lambda path: GPT.from_pretrained(Path(path).parent).num_parameters(),
     r"GPT\.from_pretrained"),
    ("check_checkpoint_parameters", lambda path: gpt2lite.pretrained.load_pretrained(Path(path).parent)
     .num_parameters(), r"gpt2lite\.pretrained\.load_pretrained"),
    # chapter 10
    ("check_attention_mask", lambda tq, tk, causal: causal_mask(tq, tk) if causal else torch.ones(tq, tk, dtype=bool),
     r"gpt2lite\.attention\.causal_mask"),
    ("check_attention_mask", lambda tq, tk, causal: gpt2lite.attention.causal_mask(tq, tk),
     r"gpt2lite\.attention\.causal_mask"),
    ("check_masked_lm_loss", lambda lg, t: F.cross_entropy(lg.flatten(0, 1), t.flatten(), ignore_index=-100),
     r"F\.cross_entropy"),
    ("check_masked_lm_loss", _masked_nll, r"F\.nll_loss"),
    ("check_masked_lm_loss", lambda lg, t: nn.CrossEntropyLoss()(lg.flatten(0, 1), t.flatten()),
     r"nn\.CrossEntropyLoss"),
    ("check_gpt_num_parameters", _meta_count, r"meta_model"),
    ("check_gpt_num_parameters", _gpt_count, r"GPT"),
]


@pytest.mark.parametrize("check, answer, call", SHORTCUTS,
                         ids=[f"{check}-{i}" for i, (check, _, _) in enumerate(SHORTCUTS)])
def test_a_shortcut_fails_naming_the_call(check, answer, call):
    answers = answer if isinstance(answer, tuple) else (answer,)
    with pytest.raises(CheckFailed, match=rf"called (\S+\.)?{call}\S*\(\.\.\.\), which this exercise does not "
                                          r"allow\n  hint:     \S"):
        getattr(gpt2lite.checks, check)(*answers)
    assert sys.getprofile() is None  # the guard is gone


# Checks without a ready-made answer: nothing to forbid. (Each reason is in the report of issue 14.)
NO_SHORTCUT = {"check_pair_probability", "check_bigram_temperature", "check_sizes", "check_masked_softmax",
               "check_split_merge_heads", "check_uniform_loss", "check_apply_temperature", "check_bert_mask",
               "check_compare_logits"}


def test_every_check_is_either_guarded_or_listed_as_having_no_shortcut():
    guarded = {check for check, _, _ in SHORTCUTS}
    assert guarded | NO_SHORTCUT == set(gpt2lite.checks._WHERE) and not guarded & NO_SHORTCUT


# ------------------------------------------------------------------------------ the chapters' own solutions
def _definitions(source: str) -> str:
    """The imports, functions, classes and literal constants of a cell: what later cells may need, without
    running the chapter's computations (training, plots)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython magics
        return ""

    def literal(node: ast.AST) -> bool:
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True

    kept = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or isinstance(n, ast.Assign) and literal(n)]
    return "\n".join(ast.get_source_segment(source, n) for n in kept)


def _solutions_script(chapter: Path) -> str:
    """A script that defines each exercise's solution (after the definitions of the cells above it) and calls the
    check of its check cell."""
    nb = json.loads(chapter.read_text())
    parts, done = ["import math", "import torch", "import torch.nn as nn", "import torch.nn.functional as F"], 0
    for ex in course.exercises(nb, chapter.name):
        parts += [_definitions(course.source(c)) for c in nb["cells"][done:ex.solution] if c["cell_type"] == "code"]
        parts.append(course.source(nb["cells"][ex.solution]))
        check = course.source(nb["cells"][ex.check]).splitlines()
        parts += [line for line in check if line.startswith(("from gpt2lite.checks", "check_"))]
        done = ex.check + 1
    return "\n".join(parts)


@pytest.mark.slow
def test_every_chapters_own_solutions_pass_their_checks(tmp_path):
    """All chapters in one fresh process (each in its own namespace): every check prints its ✓ line."""
    chapters = course.chapters(BOOK)
    runner = textwrap.dedent("""
        import json, sys
        for name, script in json.loads(sys.stdin.read()):
            print(f"== {name}", flush=True)
            exec(compile(script, name, "exec"), {"__name__": "__main__"})
    """)
    scripts = json.dumps([(c.name, _solutions_script(c)) for c in chapters])
    result = subprocess.run([sys.executable, "-c", runner], input=scripts, capture_output=True, text=True,
                            cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    ticks = [line for line in result.stdout.splitlines() if line.startswith("✓")]
    assert len(ticks) == sum(len(course.exercises(json.loads(c.read_text()))) for c in chapters), result.stdout
