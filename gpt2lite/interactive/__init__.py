"""Figures a reader plays with in the page: the book's interactive figures, computed from the real objects.

Each function takes what its chapter computed and returns an `Interactive`, which a notebook displays as HTML
with its data, a still picture and its JavaScript inlined (see `figure`). The same output runs in the rendered
book (no kernel), in Jupyter and in Colab, and prints as its still picture.

- `tokenizer_playground`: type text, see GPT-2's tokens and ids (chapter 2)
- `attention_explorer`: pick a layer and a head, point at a token, see what it attends to (chapters 4 and 10)
- `sampling_explorer`: temperature, top-k and top-p over a trained model's next-token distribution (chapter 8)
- `generation_playground`: the chapter's trained model, exported to ONNX, writing in the page (chapter 8)
"""

from .attention import attention_explorer
from .figure import KINDS, Interactive, rounded
from .generation import export_onnx, generation_playground
from .sampling import sampling_explorer
from .tokens import tokenizer_playground

__all__ = [
    "Interactive",
    "KINDS",
    "attention_explorer",
    "export_onnx",
    "generation_playground",
    "rounded",
    "sampling_explorer",
    "tokenizer_playground",
]
