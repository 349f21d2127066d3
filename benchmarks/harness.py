"""Shared benchmark harness: timing by median of repeats and a plain-text results table.

Benchmarks run the peers in the same process on the same data; run one as
`python -m benchmarks.<name>` from the project root.
"""
import time

import numpy as np


def time_call(fn, repeat=7, number=None, min_time=0.05):
    """Median wall time in seconds of one call of `fn()`, over `repeat` rounds.

    Each round calls `fn` `number` times (chosen so a round lasts at least `min_time` when None)
    after one untimed warm-up call (which also triggers numba compilation).
    """
    fn()
    if number is None:
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - t0 >= min_time:
                break
            number *= 2
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return float(np.median(rounds))


def print_table(title, header, rows):
    """Print rows (lists of str/number) under a header, columns aligned."""
    cells = [[_fmt(c) for c in row] for row in [header] + list(rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(v):
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)
