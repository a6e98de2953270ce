"""``python -m gpt2lite``: the ``gpt2lite`` command (see gpt2lite/cli.py). Options alone train a small GPT on Tiny
Shakespeare and let it write, as they always did: ``python -m gpt2lite --steps 600``."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m gpt2lite"))
