"""Image compression: gantutor's autoregressive pixel model against gzip, xz and PNG.

On the 10,000 MNIST test images (from ``$GANTUTOR_DATA`` or ``--data-dir``; without
them, scikit-learn's 1,797 8x8 digits, said on the first line), trains the pixel
model of ``gantutor.compression.pixelmodel`` on the images, quantises it, and writes a
two-part code: the model's weights (compressed) plus every pixel range-coded with it.
Then it decodes everything and checks the images are identical. Baselines on the same
pixels: gzip/bz2/xz -9 of the raw IDX file and PNG (one file per image, and all
images tiled into one file). Every header is counted.

    GANTUTOR_DATA=../shared/data python benchmarks/compress_pixels.py
    python benchmarks/compress_pixels.py --steps 500 --n 1000     # a quick look

Published lossless results on MNIST, in bits per pixel (= bits/dim), for models
trained on the 60,000 training images and evaluated on the test set, model size not
counted: BB-ANS 1.41 (Townsend et al. 2019), Bit-Swap 1.29 (Kingma et al. 2019).
Here the model is trained on the very images it codes and its weights are counted,
which is the two-part code of notebook 03.

The last line is ``bpp gantutor=<x> gzip_idx=<x> xz_idx=<x> png_each=<x>
png_all=<x> roundtrip=<ok|FAIL> seconds=<x> images=<n>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gantutor import codec, data, pixelmodel  # noqa: E402

PUBLISHED = {"BB-ANS (Townsend et al. 2019)": 1.41,
             "Bit-Swap (Kingma et al. 2019)": 1.29}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--n", type=int, default=10_000, help="number of images")
    parser.add_argument("--steps", type=int, default=pixelmodel.PixelConfig.steps)
    parser.add_argument("--hidden", type=int, default=pixelmodel.PixelConfig.hidden)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ds = data.load_dataset("mnist", split="test", root=args.data_dir,
                               download=False)
    except data.DataNotFoundError:
        print("MNIST test images not found: using scikit-learn's 8x8 digits")
        ds = data.load_dataset("digits", split="all")
    levels = pixelmodel.levels_of(ds)
    images = pixelmodel.to_levels(ds.x[: args.n], levels)
    n_pix = images.size
    print(f"{ds.name}: {len(images):,} images of {images.shape[1]}x{images.shape[2]}, "
          f"{levels} grey levels, {n_pix:,} pixels")

    cfg = pixelmodel.PixelConfig(steps=args.steps, hidden=args.hidden)
    t0 = time.perf_counter()
    blob, rep = codec.compress_images(
        images, levels, cfg,
        on_step=lambda s, b: print(f"  step {s:>5}: {b:.3f} bits/pixel on a batch")
        if s % 1000 == 0 or s == cfg.steps - 1 else None)
    t1 = time.perf_counter()
    back = codec.decompress_images(blob)
    t2 = time.perf_counter()
    ok = back.shape == images.shape and (back == images).all()

    sizes = {"gantutor": len(blob), **codec.image_baseline_sizes(images, levels)}
    print(f"\n{'method':<22} {'bytes':>10} {'bits/pixel':>11}")
    for k, v in sizes.items():
        print(f"{k:<22} {v:>10,} {8 * v / n_pix:>11.3f}")
    for k, v in PUBLISHED.items():
        print(f"{k:<30}  {v:>11.2f}   (published, 60k training images, "
              "model not counted)")
    print(f"\ngantutor in detail: model weights {rep['model']:,} bytes (from "
          f"{rep['weights_raw']:,} raw 8-bit), pixels {rep['pixels']:,} bytes "
          f"(-sum log2 p = {rep['ideal_pixel_bits'] / 8:,.0f}), container "
          f"{rep['container']:,} bytes")
    print(f"  = {8 * rep['pixels'] / n_pix:.3f} bits/pixel for the pixels alone, "
          f"{8 * rep['model'] / n_pix:.3f} for the model")
    print(f"train + compress {t1 - t0:.0f} s, decompress {t2 - t1:.0f} s, round trip "
          f"{'identical' if ok else 'DIFFERENT'}")
    bpp = {k: 8 * v / n_pix for k, v in sizes.items()}
    print(f"bpp gantutor={bpp['gantutor']:.3f} gzip_idx={bpp['gzip of IDX']:.3f} "
          f"xz_idx={bpp['xz of IDX']:.3f} png_each={bpp['PNG, one per image']:.3f} "
          f"png_all={bpp['PNG, all in one']:.3f} roundtrip={'ok' if ok else 'FAIL'} "
          f"seconds={t2 - t0:.0f} images={len(images)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
