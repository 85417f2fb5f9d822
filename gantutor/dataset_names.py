"""The datasets gantutor can load, by name; :mod:`gantutor.data` loads them.

Standard library only, so the command line can offer the names without importing
torch.
"""

IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")
MIXTURE_DATASETS = ("ring", "grid")  # 2-D Gaussian mixtures
DATASETS = IMAGE_DATASETS + MIXTURE_DATASETS
