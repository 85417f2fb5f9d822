"""Trained runs kept between notebooks: train a GAN once, reuse it later.

Notebook 05 trains the MLP GAN and notebook 06 the DCGAN; later notebooks study those
generators. ``train_or_reuse`` keys a run by everything that decides its weights (the
name, the networks' initial weights and architecture, the settings that shape
training, the data) and keeps its checkpoint under the cache folder
(:func:`gantutor.env.cache_dir`). A later call with the same key loads the finished
run instead of training again; a run interrupted half-way continues from its last
checkpoint; a damaged cache file is reported in one line and trained again.

    hist = gt.train_or_reuse("mlp-mnist", G, D, data, cfg)   # trains, or loads
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from ..checkpoint import load_checkpoint, load_state
from ..env import cache_dir
from ..errors import GantutorError
from . import restore
from .config import TrainConfig
from .train import History, train_gan

# Settings that change what is computed or how often it is reported, not the weights.
_NOT_IN_KEY = ("device", "progress", "log_every", "snapshot_every", "checkpoint_every",
               "n_fixed", "compile", "ddp")


def run_key(name: str, G, D, data, cfg: TrainConfig) -> str:
    """SHA-256 (hex) of everything that decides the trained weights of this run."""
    h = hashlib.sha256(name.encode())
    settings = {k: v for k, v in asdict(cfg).items() if k not in _NOT_IN_KEY}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for net in (G, D):
        h.update(json.dumps(getattr(net, "spec", None), sort_keys=True,
                            default=str).encode())
        for k, v in net.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    for t in (data.x, data.y):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run_folder(name: str, G, D, data, cfg: TrainConfig, cache=None) -> Path:
    """The folder under the cache that holds this run's checkpoint."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "run"
    return (Path(cache) if cache else cache_dir()) / "runs" / \
        f"{safe}-{run_key(name, G, D, data, cfg)[:16]}"


def train_or_reuse(name: str, G, D, data, cfg: TrainConfig, on_step=None,
                   cache=None, retrain: bool = False, verbose: bool = True) -> History:
    """Train ``G`` and ``D`` as ``train_gan`` would, or load the same finished run.

    The weights end up in ``G`` and ``D`` either way. A loaded run's history has the
    losses and verdicts but no sample snapshots (those are drawn while training).
    ``retrain=True`` trains afresh and replaces the cached run. Prints one line
    saying which happened.
    """
    folder = run_folder(name, G, D, data, cfg, cache)
    ckpt = folder / "checkpoint.pt"
    state, why = None, None
    if ckpt.exists() and not retrain:
        try:
            state = load_checkpoint(ckpt, map_location="cpu")
            restore.check_keys(state, ckpt, ("G", "D", "step", "history"))
        except GantutorError as err:
            state, why = None, str(err)
    if state is not None and state["step"] == cfg.steps:
        load_state(G, state["G"], "generator", ckpt)
        load_state(D, state["D"], "discriminator", ckpt)
        history = History.from_dict(state["history"])
        if verbose:
            print(f"{name}: reused the finished run of {cfg.steps:,} steps in {folder} "
                  "(delete that folder, or pass retrain=True, to train it again)")
        return history
    resume = state is not None and 0 < state["step"] < cfg.steps
    if verbose:
        if why:
            print(f"{name}: the cached run could not be used ({why}); training again")
        print(f"{name}: " + ("continuing the interrupted run" if resume else "training")
              + f" ({cfg.steps:,} steps); it is kept in {folder} for later notebooks")
    folder.mkdir(parents=True, exist_ok=True)
    return train_gan(G, D, data, cfg, out=folder, on_step=on_step, resume=resume)

