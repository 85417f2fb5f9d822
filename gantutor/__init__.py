"""gantutor: the helper package of the course "a large model is a compressor".

Notebooks import it as ``import gantutor as gt`` and call ``gt.budget``,
``gt.load_dataset``, ``gt.build_gan``, ``gt.train_gan`` and friends; every line of
reusable logic lives here, where the tests cover it.

The package is layered; a layer imports only from the layers above it in this list:

- foundations (this folder): ``errors``, ``env`` (device, seeds, budget), ``data``
  (and ``dataset_names``), ``checkpoint``, ``plot`` (figures that several lessons
  share);
- ``gan``: the training settings (``config``), models, losses, the objective's closed
  forms, the training loop, DDP;
- ``evaluation``: the offline judge, metrics, the evaluation report, probes and
  attribution (may use ``gan``);
- ``compression``: the entropy coder, the models that turn predictions into bytes, the
  container format, the generative codec and its baselines (may use ``gan`` and
  ``evaluation``);
- ``course``: what exists only for the notebooks: set-up, widgets, lesson
  experiments and their figures, and the exercise checks (``course.checks``);
- ``cli``: the ``gantutor`` command, one module per sub-command.

Nothing is imported eagerly: ``import gantutor`` costs milliseconds, and ``gt.name``
imports the module that defines ``name`` the first time it is used (PEP 562).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Short names a learner types, mapped to the module that defines them.
_MODULES = {
    # foundations
    "errors": "gantutor.errors", "env": "gantutor.env", "data": "gantutor.data",
    "checkpoint": "gantutor.checkpoint", "plot": "gantutor.plot",
    # gan
    "gan": "gantutor.gan", "models": "gantutor.gan.models",
    "losses": "gantutor.gan.losses", "objective": "gantutor.gan.objective",
    "train": "gantutor.gan.train", "distributed": "gantutor.gan.distributed",
    "latent": "gantutor.gan.latent", "steps": "gantutor.gan.steps",
    "restore": "gantutor.gan.restore", "cache": "gantutor.gan.cache",
    # evaluation
    "evaluation": "gantutor.evaluation", "metrics": "gantutor.evaluation.metrics",
    "classifier": "gantutor.evaluation.classifier",
    "report": "gantutor.evaluation.report", "probe": "gantutor.evaluation.probe",
    "attribution": "gantutor.evaluation.attribution",
    "judge": "gantutor.evaluation.judge",
    "explain": "gantutor.evaluation.explain", "privacy": "gantutor.evaluation.privacy",
    "detector": "gantutor.evaluation.detector",
    "fairness": "gantutor.evaluation.fairness",
    # compression
    "compression": "gantutor.compression", "coder": "gantutor.compression.coder",
    "codec": "gantutor.compression.codec",
    "textmodel": "gantutor.compression.textmodel",
    "corpus": "gantutor.compression.corpus",
    "textnet": "gantutor.compression.textnet",
    "twopart": "gantutor.compression.twopart",
    "pixelmodel": "gantutor.compression.pixelmodel",
    "latentcode": "gantutor.compression.latentcode",
    "gencodec": "gantutor.compression.gencodec",
    "imagecodec": "gantutor.compression.imagecodec",
    "ratedistortion": "gantutor.compression.ratedistortion",
    # course
    "course": "gantutor.course", "notebook": "gantutor.course.notebook",
    "widgets": "gantutor.course.widgets", "check": "gantutor.course.checks",
    "risk": "gantutor.course.risk", "lessons": "gantutor.course.lessons",
    "remedies": "gantutor.course.remedies", "augment": "gantutor.course.augment",
    "scaling": "gantutor.course.scaling", "runs": "gantutor.course.runs",
    "responsibility": "gantutor.course.responsibility",
    # the command line
    "cli": "gantutor.cli",
}

# Functions and classes used often enough to sit at the top: gt.<name>.
_NAMES = {
    "GantutorError": "gantutor.errors",
    "budget": "gantutor.env", "is_fast": "gantutor.env", "on_colab": "gantutor.env",
    "resolve_device": "gantutor.env", "seed_everything": "gantutor.env",
    "load_dataset": "gantutor.data",
    "build_gan": "gantutor.gan.models",
    "TrainConfig": "gantutor.gan.config", "History": "gantutor.gan.train",
    "train_gan": "gantutor.gan.train", "sample": "gantutor.gan.train",
    "load_generator": "gantutor.gan.train", "train_or_reuse": "gantutor.gan.cache",
}

__all__ = sorted([*_MODULES, *_NAMES])


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        raise AttributeError(f"module 'gantutor' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted({*globals(), *__all__})
