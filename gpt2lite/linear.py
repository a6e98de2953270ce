"""nn.Linear with a faster path for the few rows of a generation step on the CPU."""

from __future__ import annotations

import torch
import torch.nn as nn

FEW_ROWS = 8  # up to this many rows, a product with the weight matrix is bound by reading the weights


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same results up to float rounding), faster for 1 to 8 rows in fp32 on the CPU.

    Generating a token multiplies one row per sequence by every weight matrix. CPU BLAS libraries then run a
    matrix-vector kernel for ``x @ W.T`` that streams W at about half the speed of their matrix-matrix kernel.
    Computing ``W @ x.T`` with at least two columns takes the matrix-matrix kernel: 2-3x faster for GPT-2's
    matrices on the machine measured in the book's appendix "How fast is it?". Training and long prompts have
    many rows and use ``nn.Linear`` as it is; so do GPUs, and bf16 weights, whose oneDNN kernels are fast already.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if x.device.type != "cpu" or x.dtype != torch.float32 or rows > FEW_ROWS or rows == 0:
            return super().forward(x)
        flat = x.reshape(rows, self.in_features)  # (rows, in)
        if rows == 1:
            flat = torch.cat([flat, flat])  # two columns: the matrix-matrix kernel
        if self.bias is None:
            out = self.weight @ flat.T  # (out, rows)
        else:
            out = torch.addmm(self.bias[:, None], self.weight, flat.T)  # (out, rows)
        return out.T[:rows].contiguous().view(*x.shape[:-1], self.out_features)  # (..., out)
