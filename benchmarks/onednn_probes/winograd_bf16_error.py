#!/usr/bin/python3
"""Would Winograd F(4x4, 3x3) with bf16 products be accurate enough? (docs/benchmarks.md)

ctnn's f32 Winograd (include/ctnn/onednn/winograd.hpp) transforms inputs and weights, multiplies
them with oneDNN's matmul and transforms back. A bf16 variant would round the transformed inputs
V = B^T d B and weights U = G g G^T to bf16 and accumulate in f32, as a bf16 direct convolution
rounds x and w. This emulates both on GoogLeNet- and ResNet-sized 3x3 layers (random ReLU
inputs, He-scaled weights) and prints each one's error against the float64 convolution: the
largest difference over the largest output, and the relative L2 norm of the difference.

    /usr/bin/python3 benchmarks/onednn_probes/winograd_bf16_error.py   (Debian's python3-torch)
"""
import torch

B_T = torch.tensor([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=torch.float64)
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64)
A_T = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                   dtype=torch.float64)


def to_bf16(t):
    return t.to(torch.bfloat16).to(t.dtype)


def winograd(x, w, bf16):
    """F(4x4, 3x3), padding 1: transforms in float64, products in float32 (bf16 operands if asked)."""
    n, _, h, width = x.shape
    rows, columns = (h + 3) // 4, (width + 3) // 4
    padded = torch.nn.functional.pad(x.double(), (1, 1 + 4 * columns - width, 1, 1 + 4 * rows - h))
    u = torch.einsum('ia,kcab,jb->ijck', G, w.double(), G).float()
    if bf16:
        u = to_bf16(u)
    y = torch.zeros(n, w.shape[0], 4 * rows, 4 * columns, dtype=torch.float64)
    for r in range(rows):
        for c in range(columns):
            d = padded[:, :, 4 * r:4 * r + 6, 4 * c:4 * c + 6]
            v = torch.einsum('ia,ncab,jb->nijc', B_T, d, B_T).float()
            if bf16:
                v = to_bf16(v)
            m = torch.einsum('nijc,ijck->nijk', v, u).double()
            y[:, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4] = torch.einsum('pi,nijk,qj->nkpq', A_T, m, A_T)
    return y[:, :, :h, :width]


def main():
    torch.manual_seed(0)
    print(f"{'layer':<24} {'direct bf16':>22} {'Winograd f32':>22} {'Winograd bf16':>22}")
    print(f"{'':<24} {'max / L2':>22} {'max / L2':>22} {'max / L2':>22}")
    for in_channels, out_channels, size in [(96, 128, 28), (112, 224, 14), (160, 320, 7), (64, 64, 56)]:
        x = torch.relu(torch.randn(2, in_channels, size, size))
        w = torch.randn(out_channels, in_channels, 3, 3) * (2 / (9 * in_channels)) ** 0.5
        exact = torch.nn.functional.conv2d(x.double(), w.double(), padding=1)
        largest = exact.abs().max().item()

        def error(y):
            return f"{(y - exact).abs().max().item() / largest:.1e} / {((y - exact).norm() / exact.norm()).item():.1e}"

        direct_bf16 = torch.nn.functional.conv2d(to_bf16(x).double(), to_bf16(w).double(), padding=1)
        print(f"{f'{in_channels}->{out_channels} {size}x{size}':<24} {error(direct_bf16):>22} "
              f"{error(winograd(x, w, False)):>22} {error(winograd(to_bf16(x), w, True)):>22}")


if __name__ == '__main__':
    main()
