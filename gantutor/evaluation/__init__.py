"""Judging generators and networks offline.

- ``classifier``: the feature extractor, a small CNN trained on the dataset itself
  (no downloaded weights), cached per dataset.
- ``metrics``: Fréchet distance, classifier score, precision/recall/density/coverage,
  mode coverage on the 2-D mixtures, PSNR and SSIM, nearest neighbours and the
  membership AUC (memorisation), and the noise and blur that calibrate them.
- ``report``: every metric with its n, as ``gantutor evaluate`` prints it.
- ``probe``: what a trained network learned (linear probes, clusters).
- ``attribution``: which pixels a decision rests on.
- ``explain``: LIME, Kernel SHAP, integrated gradients and gradient × input through
  captum, and their faithfulness (deletion and insertion curves).
- ``privacy``: DP-SGD through Opacus and the loss-threshold membership attack.
- ``detector``: a real-vs-generated classifier; ``fairness``: per-class recall and
  coverage of a generator.

May import: the foundations and ``gantutor.gan``. Nothing here imports
``compression``, ``course`` or ``cli``.
"""
