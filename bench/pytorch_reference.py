"""PyTorch reference for `workbench bench --only pytorch` (bench/README.md).

The step a researcher would write with nn.Module and autograd: the paper's MNIST MLP 784-512-512-512-10 with
LayerNorm + GELU (Workbench's mlp-mnist-lmc), batch 128 of random MNIST-shaped data, one chain, and one of
SGLD, pSGLD or SGHMC, standard or W-Asym (W' = M*W + (1-M)*F in forward). Prints one JSON line with steps_per_s.

    OPENBLAS_NUM_THREADS=2 python3 bench/pytorch_reference.py --method sgld --variant w-asym --seconds 3
"""
import argparse, json, math, os, sys, time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--method", choices=["sgld", "psgld", "sghmc"], default="sgld")
p.add_argument("--variant", choices=["standard", "w-asym"], default="standard")
p.add_argument("--seconds", type=float, default=3.0, help="timed seconds")
p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
p.add_argument("--train-size", type=int, default=8000, help="N of the tempering (random data of this many rows)")
p.add_argument("--lr", type=float, default=None, help="step size (default: Workbench's: 1e-3, sghmc 1e-4)")
p.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads (1 is fastest with OpenBLAS)")
p.add_argument("--blas-threads", type=int, default=None, help="OPENBLAS_NUM_THREADS unless already set (default: all cores)")
a = p.parse_args()
# OpenBLAS reads its thread count once, when torch loads it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.blas_threads or os.cpu_count()))
import torch
from torch import nn
import torch.nn.functional as F

torch.set_num_threads(a.torch_threads)
torch.manual_seed(0)


class WAsymLinear(nn.Linear):
    """n_fix entries per row fixed to F = kappa * N(0,1); gradients reaching them are simply unused."""
    def __init__(self, d_in, d_out, n_fix, kappa):
        super().__init__(d_in, d_out)
        fixed = torch.rand(d_out, d_in).argsort(dim=1)[:, :n_fix]
        self.register_buffer("mask", torch.ones(d_out, d_in).scatter_(1, fixed, 0.0))
        self.register_buffer("fixed", kappa * torch.randn(d_out, d_in))

    def forward(self, x):
        return F.linear(x, self.mask * self.weight + (1 - self.mask) * self.fixed, self.bias)


def linear(d_in, d_out, n_fix, kappa):
    return WAsymLinear(d_in, d_out, n_fix, kappa) if a.variant == "w-asym" else nn.Linear(d_in, d_out)


# Workbench's mlp-mnist-lmc: W-Asym (n_fix, kappa) per Linear layer.
settings = [(64, 1.0), (64, 1.0), (64, 0.5), (256, 0.25)]
widths = [784, 512, 512, 512, 10]
layers = []
for i, (d_in, d_out) in enumerate(zip(widths, widths[1:])):
    layers.append(linear(d_in, d_out, *settings[i]))
    if i < len(widths) - 2:
        layers += [nn.LayerNorm(d_out), nn.GELU()]
model = nn.Sequential(*layers)
fixed = sum(int((1 - m.mask).sum()) for m in model.modules() if isinstance(m, WAsymLinear))
trainable = sum(q.numel() for q in model.parameters()) - fixed

N, B = a.train_size, 128
X, Y = torch.randn(N, 784), torch.randint(10, (N,))
lr = a.lr if a.lr is not None else (1e-4 if a.method == "sghmc" else 1e-3)
decay = 1.0 / N                      # prior N(0, 1) on the per-datum objective
alpha, eps, momentum = 0.99, 1e-5, 0.9
state = {q: torch.zeros_like(q) for q in model.parameters()}  # pSGLD's V or SGHMC's momentum


def step():
    i = torch.randint(N, (B,))
    model.zero_grad()
    F.cross_entropy(model(X[i]), Y[i]).backward()
    with torch.no_grad():
        for q in model.parameters():
            g = q.grad + decay * q                                  # gradient of the loss: -(grad log-lik/B) + theta/N
            if a.method == "sgld":
                q.add_(-lr * g + math.sqrt(2 * lr / N) * torch.randn_like(q))
            elif a.method == "psgld":
                v = state[q].mul_(alpha).addcmul_(g, g, value=1 - alpha)
                G = 1.0 / (eps + v.sqrt())
                q.add_(-lr * G * g + math.sqrt(2 * lr / N) * G.sqrt() * torch.randn_like(q))
            else:
                m = state[q].mul_(momentum).add_(-lr * g + math.sqrt(2 * (1 - momentum) * lr / N) * torch.randn_like(q))
                q.add_(m)


for _ in range(a.warmup):
    step()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < a.seconds or steps < 3:
    step()
    steps += 1
elapsed = time.perf_counter() - start
print(json.dumps({
    "method": a.method, "variant": a.variant, "steps_per_s": steps / elapsed, "steps": steps, "seconds": elapsed,
    "trainable": trainable, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
    "openblas_threads": int(os.environ["OPENBLAS_NUM_THREADS"]), "python": sys.version.split()[0],
}))
