"""What exists only for the notebooks: set-up, widgets, lesson experiments with their
figures, and the exercise checks.

- ``notebook``: the Colab badge and install cell, the set-up line every notebook runs.
- ``widgets``: ipywidgets explorers, each with a static twin.
- ``checks``: ``gt.check.<exercise>(your_function)``, one module per notebook
  (``checks/nb01.py`` ...) on the machinery of ``checks/core.py``.
- Lesson experiments, each next to its own plots: ``risk`` (01), ``lessons`` (05, the
  GAN step spelled out and the classic bugs), ``remedies`` (06, mode collapse),
  ``augment`` (09, generated data for a classifier), ``scaling`` (10),
  ``responsibility`` (11, membership by training-set size and steps; the two GANs
  the detector is tested on).

May import every other layer except ``cli``; nothing outside ``course`` imports it.
"""
