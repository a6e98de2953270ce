"""The book's drawings, computed from the real objects they show.

Each function takes what it draws (a config, a tokenizer and a text, a tensor of attention weights, the frames
of a generation run) and returns a `Drawing`, which a notebook shows as SVG. So a 2-layer config draws two blocks,
and another sentence gives other labels. All of them share one palette (`style.PALETTE`) and one style of box and
arrow (`canvas.Drawing`). The modules follow the book:

- `overview`: the book map, next-word suggestions, the bigram table (chapter 1)
- `tokens`: BPE merges, pre-tokenizer chunks, the byte-to-unicode map (chapter 2)
- `embedding`: wte and wpe lookups, weight tying (chapter 3)
- `attention`: queries, keys and values, the causal mask, heads (chapter 4)
- `architecture`: the decoder block, the residual stream, the four GPT-2 sizes (chapters 5 and 6)
- `training`: the training step, input and target windows (chapter 7)
- `sampling`: generation frames, the KV cache, top-k and top-p (chapter 8)
- `checkpoint`: checkpoint names and the safetensors layout (chapter 9)
- `family`: encoder, decoder, encoder-decoder, and the family tree (chapter 10)
"""

from . import architecture, attention, checkpoint, embedding, family, overview, sampling, tokens, training
from .architecture import *  # noqa: F403
from .attention import *  # noqa: F403
from .canvas import Box, Drawing, piece_label
from .checkpoint import *  # noqa: F403
from .embedding import *  # noqa: F403
from .family import *  # noqa: F403
from .overview import *  # noqa: F403
from .sampling import *  # noqa: F403
from .style import PALETTE, colour
from .tokens import *  # noqa: F403
from .training import *  # noqa: F403

_MODULES = (overview, tokens, embedding, attention, architecture, training, sampling, checkpoint, family)
__all__ = ["Box", "Drawing", "PALETTE", "colour", "piece_label"] + [n for m in _MODULES for n in m.__all__]
