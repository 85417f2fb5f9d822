"""gantutor: the helper package of the course "a large model is a compressor".

Notebooks import it as ``import gantutor as gt`` and call ``gt.budget``,
``gt.load_dataset``, ``gt.build_gan``, ``gt.train_gan`` and friends; every line of
reusable logic lives here, where the tests cover it.
"""

__version__ = "0.1.0"

from . import (  # noqa: E402
    attribution,
    augment,
    check,
    coder,
    compress,
    data,
    distributed,
    evaluation,
    gencodec,
    imagecodec,
    latent,
    latentcode,
    lessons,
    losses,
    metrics,
    models,
    notebook,
    objective,
    pixelmodel,
    plot,
    probe,
    ratedistortion,
    remedies,
    risk,
    scaling,
    textmodel,
    textnet,
    widgets,
)
from .data import load_dataset  # noqa: E402
from .env import budget, is_fast, on_colab, resolve_device, seed_everything  # noqa: E402
from .errors import GantutorError  # noqa: E402
from .models import build_gan  # noqa: E402
from .train import History, TrainConfig, load_generator, sample, train_gan  # noqa: E402

__all__ = [
    "budget", "build_gan", "data", "GantutorError", "History", "is_fast",
    "load_dataset", "load_generator", "losses", "metrics", "models", "notebook",
    "on_colab", "plot", "check", "objective", "risk", "widgets", "distributed",
    "scaling", "lessons", "remedies", "attribution", "augment", "latent", "probe",
    "evaluation", "gencodec", "imagecodec", "latentcode", "ratedistortion",
    "coder", "compress", "pixelmodel", "textmodel", "textnet",
    "resolve_device", "sample", "seed_everything", "TrainConfig", "train_gan",
]
