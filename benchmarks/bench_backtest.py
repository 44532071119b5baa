"""Benchmark: the fast partition sampler + batched forecast against the naive backtest loop.

R = 10,000 partitions of a pool of N = 200,000 scores, m = 1,000, n = 100,000, k = 10. The naive loop (per partition:
shuffle the whole pool, split, fit with fit_gumbel_tail, take the deployment maximum) is O(N) per partition; it is
timed on a subset of partitions (default 300) and extrapolated linearly to R, which the output says.

Usage: python benchmarks/bench_backtest.py [--naive-partitions 300] [--threads 2]
"""
import argparse
import os
import time

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=200_000)
    ap.add_argument("--m", type=int, default=1_000)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--R", type=int, default=10_000)
    ap.add_argument("--naive-partitions", type=int, default=300, help="naive partitions actually timed (extrapolated to R)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(var, str(args.threads))

    import numpy as np
    from predfail.backtest import backtest, sample_partitions
    from predfail.forecast import fit_gumbel_tail, forecast_batch

    N, m, n, k, R = args.N, args.m, args.n, args.k, args.R
    pool = np.random.default_rng(0).gumbel(size=N)
    print(f"pool N = {N:,}, m = {m:,}, n = {n:,}, k = {k}, R = {R:,} partitions, {os.cpu_count()} CPU(s) visible")

    sample_partitions(pool, m, n, k, R=50, seed=99)          # warm-up (imports, caches)
    t0 = time.perf_counter()
    parts = sample_partitions(pool, m, n, k, R=R, seed=1)
    fast_q = forecast_batch(parts.eval_top, n, k=k, m=m).score[:, 0]
    fast_err = fast_q - parts.deploy_max
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = backtest(pool, m, n, k=k, R=R, seed=1)
    t_full = time.perf_counter() - t0

    rng = np.random.default_rng(2)
    r_naive = min(args.naive_partitions, R)
    naive_err = np.empty(r_naive)
    t0 = time.perf_counter()
    for i in range(r_naive):
        perm = rng.permutation(N)
        ev, dep = pool[perm[:m]], pool[perm[m:m + n]]
        naive_err[i] = fit_gumbel_tail(ev, k=k).forecast_score(n) - dep.max()
    t_naive_sub = time.perf_counter() - t0
    t_naive = t_naive_sub*R/r_naive

    print(f"fast  (sample_partitions + forecast_batch, gumbel only): {t_fast:8.3f} s for {R:,} partitions")
    print(f"fast  (backtest(): 3 methods, DataFrame of {len(df):,} rows): {t_full:8.3f} s")
    print(f"naive (shuffle, split, fit_gumbel_tail, max): {t_naive_sub:8.3f} s for {r_naive:,} partitions, "
          f"extrapolated linearly to {R:,}: {t_naive:8.1f} s")
    print(f"speed-up (naive extrapolated / fast): {t_naive/t_fast:8.0f}x   (vs full backtest(): {t_naive/t_full:.0f}x)")
    # same distribution, different draws: the median errors agree within sampling error
    se = 1.2533*np.std(naive_err)/np.sqrt(r_naive)
    print(f"sanity: median forecast error fast {np.median(fast_err):+.3f}, naive {np.median(naive_err):+.3f} (+- {2*se:.3f})")

if __name__ == "__main__":
    main()
