"""What PyTorch's float32 matrix product (its BLAS, here OpenBLAS) reaches on one thread of this
machine, on the products of an lstm H=256 B=32 training step and a large square one, in GFLOP/s:
the other side of `rnnlab bench --profile`'s ceiling line. Run with the Python that has torch:

    /usr/bin/python3 scripts/torch-sgemm.py
"""
import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time

import torch

torch.set_num_threads(1)
print(f"torch {torch.__version__}, one thread")
for m, k, n, what in [(32, 256, 1024, "h U, one time step"), (256, 1600, 1024, "dU over 50 steps"), (1024, 1024, 1024, "square")]:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    reps = max(5, int(2e9 / (2 * m * n * k)))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        times.append((time.perf_counter() - t) / reps)
    times.sort()
    print(f"{m:5d} x {k:5d} x {n:5d}  {2 * m * n * k / times[2] / 1e9:6.1f} GFLOP/s  ({what})")
