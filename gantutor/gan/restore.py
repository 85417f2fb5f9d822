"""Reading a training checkpoint back, with every part checked before it is used.

:func:`gantutor.checkpoint.load_checkpoint` has verified the checksum: the file is
exactly what some program wrote. The checks here make sure it is what ``gantutor
train`` writes: the keys and their types, network descriptions within sensible
sizes that match the stored weights (checked on PyTorch's "meta" device, which
allocates nothing), finite weights and optimiser states, and a batch order and
random-number state that fit the run being resumed. Each problem is one
:class:`~gantutor.errors.GantutorError` line.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..checkpoint import RETRAIN, count_non_finite, load_checkpoint, load_state
from ..dataset_names import DATASETS
from ..env import resolve_device
from ..errors import CorruptFileError, GantutorError

_MAX_SIZE = 1 << 16  # any one width, size or count in a network description


def _is_int(v, lo=0, hi=None) -> bool:
    return (type(v) is int and v >= lo  # bool is an int subclass: excluded
            and (hi is None or v <= hi))


def _is_number(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _tensor_dict(v) -> bool:
    return isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(t, torch.Tensor)
        and t.layout == torch.strided for k, t in v.items())


def _part(v) -> bool:
    return v is None or (isinstance(v, dict) and type(v.get("fraction")) is float
                         and 0 < v["fraction"] < 1 and _is_int(v.get("seed")))


# key -> (what it should be, test)
KEYS = {
    "G": ("the generator's weights, a dict of tensors", _tensor_dict),
    "D": ("the discriminator's weights, a dict of tensors", _tensor_dict),
    "G_spec": ("the generator's description, a dict", lambda v: isinstance(v, dict)),
    "D_spec": ("the discriminator's description, a dict",
               lambda v: isinstance(v, dict)),
    "opt_g": ("the generator's optimiser state, a dict",
              lambda v: isinstance(v, dict)),
    "opt_d": ("the discriminator's optimiser state, a dict",
              lambda v: isinstance(v, dict)),
    "step": ("the step reached, a whole number >= 0", _is_int),
    "history": ("the logged history, a dict of lists", lambda v: isinstance(v, dict)),
    "rng": ("the random-number state, a 1-D uint8 tensor",
            lambda v: isinstance(v, torch.Tensor) and v.dtype == torch.uint8
            and v.dim() == 1),
    "batches": ("the batch order, a dict with 'perm' and 'pos'",
                lambda v: isinstance(v, dict) and {"perm", "pos"} <= set(v)),
    "dataset": ("the dataset's name or None", lambda v: v is None or v in DATASETS),
    "data_split": ("'train', 'test' or None", lambda v: v in (None, "train", "test")),
    "data_part": ("None or the held-out part {'fraction', 'seed'}", _part),
}
SAMPLE_KEYS = ("G", "G_spec")
EVALUATE_KEYS = ("G", "G_spec", "dataset", "data_split", "data_part")
RESUME_KEYS = ("G", "D", "opt_g", "opt_d", "step", "history", "rng", "batches")

# a network description's settings -> (what it should be, test)
_SIZE = f"from 1 to {_MAX_SIZE:,}"
SPEC_SETTINGS = {
    "shape": (f"1 to 3 sizes {_SIZE}", lambda v: isinstance(v, (tuple, list))
              and 1 <= len(v) <= 3 and all(_is_int(s, 1, _MAX_SIZE) for s in v)),
    "z_dim": (f"a size {_SIZE}", lambda v: _is_int(v, 1, _MAX_SIZE)),
    "hidden": (f"up to 32 layer widths {_SIZE}", lambda v: isinstance(v, (tuple, list))
               and len(v) <= 32 and all(_is_int(h, 1, _MAX_SIZE) for h in v)),
    "num_classes": (f"a count from 0 to {_MAX_SIZE:,}",
                    lambda v: _is_int(v, 0, _MAX_SIZE)),
    "out_activation": ("'tanh' or 'none'", lambda v: v in ("tanh", "none")),
    "batch_norm": ("True or False", lambda v: type(v) is bool),
    "activation": ("'leaky_relu' or 'relu'", lambda v: v in ("leaky_relu", "relu")),
    "width": (f"a size {_SIZE}", lambda v: _is_int(v, 1, _MAX_SIZE)),
    "pack": (f"a count {_SIZE}", lambda v: _is_int(v, 1, _MAX_SIZE)),
    "spectral_norm": ("True or False", lambda v: type(v) is bool),
}


def _damaged(path, problem: str) -> CorruptFileError:
    return CorruptFileError(f"{path} is not a usable gantutor checkpoint: {problem}; "
                            f"{RETRAIN}")


def check_keys(state: dict, path, keys) -> None:
    """Every key in ``keys`` is present in ``state`` and of the type it should be."""
    for key in keys:
        what, test = KEYS[key]
        if key not in state:
            raise _damaged(path, f"it has no {key!r} ({what})")
        if not test(state[key]):
            raise _damaged(path, f"its {key!r} is not {what}")


def check_spec(spec: dict, what: str, path) -> None:
    """A network description within the sizes gantutor builds, before it is built."""
    kwargs = spec.get("kwargs")
    if not isinstance(spec.get("class"), str) or not isinstance(kwargs, dict):
        raise _damaged(path, f"the {what}'s description has no 'class' and 'kwargs'")
    for name, value in kwargs.items():
        if name not in SPEC_SETTINGS:
            raise _damaged(path, f"the {what}'s description has an unknown setting "
                                 f"{name!r}")
        rule, test = SPEC_SETTINGS[name]
        if not test(value):
            raise _damaged(path, f"the {what}'s {name}={str(value)[:60]} is not "
                                 f"{rule}")


def network(state: dict, key: str, path) -> torch.nn.Module:
    """The network ``state[key]`` ("G" or "D") rebuilt from its description, with its
    weights, on the CPU in eval mode; refused if the weights are not finite."""
    from .models import from_spec

    what = {"G": "generator", "D": "discriminator"}[key]
    spec, weights = state[f"{key}_spec"], state[key]
    check_spec(spec, what, path)
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            shapes = {k: (tuple(t.shape), t.dtype)
                      for k, t in from_spec(spec).state_dict().items()}
    except (GantutorError, TypeError, ValueError, RuntimeError) as err:
        raise _damaged(path, f"its {what}'s description cannot be built "
                             f"({str(err).splitlines()[0][:120]})") from None
    stored = {k: (tuple(t.shape), t.dtype) for k, t in weights.items()}
    if stored != shapes:
        first = sorted(set(stored.items()) ^ set(shapes.items()), key=str)[0][0]
        raise _damaged(path, f"its {what}'s weights do not match its description "
                             f"(first difference: {first})")
    check_finite(weights.values(), what, path, "it cannot give samples")
    net = from_spec(spec)
    load_state(net, weights, what, path)
    return net.eval()


def check_finite(tensors, what: str, path, consequence: str) -> None:
    """Refuse NaN or infinite values in ``tensors`` (a checkpoint's ``what``)."""
    tensors = list(tensors)
    bad = int(count_non_finite(tensors))
    if bad:
        total = sum(t.numel() for t in tensors if t.is_floating_point())
        raise GantutorError(
            f"{path}: {bad:,} of {total:,} values of the {what} are NaN or infinite, "
            f"so {consequence}. The run that wrote it diverged; {RETRAIN} and a "
            "lower --lr")


def load_generator(path, device="cpu"):
    """Rebuild the generator of a checkpoint, with its weights, in eval mode."""
    state = load_checkpoint(path, map_location="cpu")
    check_keys(state, path, SAMPLE_KEYS)
    return network(state, "G", path).to(resolve_device(device))


def load_discriminator(path, device="cpu"):
    """Rebuild the discriminator of a checkpoint, with its weights, in eval mode."""
    state = load_checkpoint(path, map_location="cpu")
    check_keys(state, path, ("D", "D_spec"))
    return network(state, "D", path).to(resolve_device(device))


def load_optimiser(opt: torch.optim.Optimizer, saved: dict, what: str, path) -> None:
    """``opt.load_state_dict(saved)``, then check what Adam's step will read: each
    group's settings of the right kinds, and per parameter finite moments of its
    shape and a step count."""
    fresh = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    try:
        opt.load_state_dict(saved)
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError,
            AttributeError) as err:
        raise _damaged(path, f"the {what} cannot be loaded "
                             f"({str(err).splitlines()[0][:120]})") from None
    for group, before in zip(opt.param_groups, fresh):
        for name, default in before.items():
            if name not in group or not _same_kind(group[name], default):
                raise _damaged(path, f"the {what}'s setting {name!r} is missing or "
                                     "of the wrong kind")
        # the settings are this run's (--lr, --betas given with --resume apply); the
        # saved state keeps only what Adam learned: its moments and step counts
        for name in ("lr", "betas", "eps", "weight_decay"):
            if name in before:
                group[name] = before[name]
        moments = {"step", "exp_avg", "exp_avg_sq"} | (
            {"max_exp_avg_sq"} if group.get("amsgrad") else set())
        for p in group["params"]:
            kept = opt.state.get(p, {})
            if kept and not (set(kept) >= moments and all(
                    isinstance(v, torch.Tensor) and v.is_floating_point()
                    and (v.numel() == 1 if k == "step" else v.shape == p.shape)
                    for k, v in kept.items())):
                raise _damaged(path, f"the {what}'s moments do not fit the "
                                     "parameters")
    check_finite([v for kept in opt.state.values() for v in kept.values()],
                 what, path, "it cannot be resumed")


def _same_kind(value, default) -> bool:
    """Whether an optimiser setting loaded from a file can stand for ``default``."""
    if default is None or isinstance(default, bool):  # flags: foreach, fused, ...
        return value is None or isinstance(value, bool)
    if _is_number(default):
        return _is_number(value) and value >= 0
    if isinstance(default, tuple):  # betas
        return (isinstance(value, (tuple, list)) and len(value) == len(default)
                and all(_is_number(v) and 0 <= v < 1 for v in value))
    if isinstance(default, torch.Tensor):
        return isinstance(value, torch.Tensor) and value.shape == default.shape
    return type(value) is type(default)


def load_rng(gen: torch.Generator, saved: torch.Tensor, path) -> None:
    """Restore the run's random-number state, if it is one for this kind of device."""
    now = gen.get_state()
    if saved.shape != now.shape:
        raise GantutorError(
            f"{path}: its random-number state is not one for a {gen.device.type} "
            f"generator ({saved.numel()} bytes, not {now.numel()}); resume on the kind "
            "of device it was trained on (--device)")
    try:
        gen.set_state(saved.cpu())
    except RuntimeError as err:
        raise _damaged(path, f"its random-number state is invalid "
                             f"({str(err).splitlines()[0][:120]})") from None


def load_batches(batches, saved: dict, path) -> None:
    """Restore the batch order, if it is one over this run's data."""
    perm, pos, n = saved["perm"], saved["pos"], batches.n
    if perm is None:
        fits = pos == n and type(pos) is int
    else:
        fits = (isinstance(perm, torch.Tensor) and perm.dtype == torch.int64
                and tuple(perm.shape) == (n,) and _is_int(pos, 0, n)
                and torch.equal(perm.sort().values,
                                torch.arange(n, device=perm.device)))
    if not fits:
        size = perm.numel() if isinstance(perm, torch.Tensor) else "?"
        raise GantutorError(
            f"{path}: its batch order is not one over this run's {n:,} samples (it "
            f"has {size}): it was written for another dataset, --split or --holdout; "
            "resume with the settings it was trained with")
    batches.load_state_dict(saved)


def history_columns(saved: dict, columns, path) -> dict:
    """The logged history: equally long lists of numbers, one per column."""
    lists = [saved.get(c) for c in columns]
    if not all(isinstance(v, list) and all(map(_is_number, v)) for v in lists) \
            or len({len(v) for v in lists}) != 1:
        raise _damaged(path, f"its history is not {len(columns)} equally long lists "
                             "of numbers")
    return dict(zip(columns, lists))


def checkpoint_step(state: dict, path: Path, steps: int) -> int:
    """The step a checkpoint reached, refused when it is already past ``steps``."""
    step = state["step"]
    if step > steps:
        raise GantutorError(
            f"{path} is already at step {step:,}, past the {steps:,} steps asked for: "
            f"give --steps above {step:,} to train it further, or use it as it is "
            "(gantutor sample, gantutor evaluate)")
    return step
