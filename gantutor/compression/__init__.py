"""Compression you can measure in bytes: models' probabilities turned into codes.

- ``coder``: the range coder (constriction) and the container format with its
  checksums; every other module here writes through it.
- ``textmodel``: the context-mixing byte model, integer arithmetic, trained online,
  in plain Python (the reference); ``textfast``: the same model compiled by numba,
  bit for bit, with its arithmetic coder; ``corpus``: five kinds of input, the usual
  compressors, and an ablation of the model's parts.
- ``textnet``: a byte-level GRU and its prequential code; ``twopart``: the GRU's
  two-part code (weights, then data).
- ``pixelmodel``: an autoregressive pixel model for images.
- ``codec``: ``compress``/``decompress`` (the container, dispatching to ``cm`` or
  ``gru``; the header schema checked before anything runs), and the general-purpose
  baselines (gzip, bz2, xz, PNG); ``files``: reading inputs and writing outputs
  safely (``-`` for standard streams, no partial files, modes kept).
- ``latentcode``, ``gencodec``: lossy compression with a generator (latents found by
  inversion or an encoder, quantised and entropy-coded); ``imagecodec``: JPEG and WebP
  baselines; ``ratedistortion``: the measured trade-off.

May import: the foundations, ``gantutor.gan`` and ``gantutor.evaluation`` (the
generative codec uses generators and the offline judge). Nothing here imports
``course`` or ``cli``.
"""
