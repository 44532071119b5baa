"run_arms on a Dask cluster (the optional `cluster` extra): the same tables as the local run."
from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd
import pytest

from predfail.core import torch_threads
from predfail.protocol import Arm, Evaluation, RunCache, addon_arms, run_arms, sweep_arms

distributed = pytest.importorskip("distributed", reason="the `cluster` extra is not installed: pip install 'predfail[cluster]'")


def test_dask_cluster_gives_the_local_tables(tmp_path):
    # two worker processes behind a real scheduler train and score the same models as one local process, bit for bit
    from predfail.experiments import synthetic as S
    cfg = replace(S.PROFILES["quick"], pretrain_steps=60, n_train=1500, n_validation=1500, n_heldout=1500, n_capability=1000,
                  m=30, n=600, R=30, steps=6)
    families = sweep_arms(cfg, S.sweeps)
    arms = [Arm("base"), families["supervised"][0], *addon_arms(families["supervised_forecast"][:1], families["supervised"][0])]
    ev = Evaluation(m=cfg.m, n=cfg.n, k=cfg.k, R=cfg.R)
    run = lambda name, **kw: run_arms(partial(S.make_model, cfg), arms, [0, 1], ev, RunCache(name, root=tmp_path),
                                      capability=S.capability_metrics, split="validation", progress=False, **kw)
    with torch_threads(1):
        local = run("local", workers=1)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
             distributed.Client(cluster) as client:
            ran_on = set()
            remote = run("dask", executor=client.get_executor())
            ran_on = {w for w, n in client.run(lambda dask_worker: len(dask_worker.data) >= 0).items()}
    untimed = lambda t: t[t.metric != "train_seconds"].reset_index(drop=True)
    pd.testing.assert_frame_equal(untimed(local), untimed(remote), check_exact=True)
    assert len(untimed(local)) > 3*2*10 and len(ran_on) == 2
    for arm in arms:   # the scores behind them, written by the workers into the shared cache folder
        for seed in (0, 1):
            a, b = (np.load(tmp_path/name/arm.name/f"seed{seed}"/"validation_logp.npy") for name in ("local", "dask"))
            assert np.array_equal(a, b)
