"""Rate–distortion of a GAN used as an image codec, against an autoencoder and JPEG.

Trains (seeded) an MLP GAN with a 32-number latent, an encoder for it and an
autoencoder of the same latent size and decoder architecture, all on the training
part of the data (MNIST, or the bundled 8x8 digits offline); then compresses the
held-out images, which none of these networks nor the offline classifier ever saw:

* GAN + inversion: z by gradient descent through G, from the encoder's guess and
  random restarts; GAN + encoder: z from the encoder in one pass; autoencoder;
* each quantised at several steps and range-coded under a Gaussian prior fitted to
  training latents (every byte counted, every symbol decoded back);
* JPEG at qualities 1..95 and WebP (where Pillow has it), through Pillow.

Rates are bits per pixel under two header rules: "set" (a header shared by the set
is counted once, images add their data bytes) and "files" (one file per image,
headers and all). Quality: PSNR and SSIM (gantutor.evaluation.metrics) and the fraction
of decoded images the classifier still puts in their true class.

    python benchmarks/rate_distortion.py                      # MNIST where found
    python benchmarks/rate_distortion.py --dataset digits --n-eval 300

The last line is ``at_bpp=<x> gantutor_psnr=<x> jpeg_psnr=<x>
gantutor_class_kept=<x> jpeg_class_kept=<x>``: at the lowest rate JPEG reaches
(quality 1, set rule), the GAN + inversion codec at its best step that spends no
more.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gantutor as gt  # noqa: E402
from gantutor import gencodec, ratedistortion  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist",
                        help="mnist (falls back to digits where not found) or digits")
    parser.add_argument("--n-eval", type=int, default=1000,
                        help="held-out images to compress")
    parser.add_argument("--z-dim", type=int, default=32, help="latent size")
    parser.add_argument("--gan-steps", type=int, default=6000)
    parser.add_argument("--encoder-steps", type=int, default=3000)
    parser.add_argument("--ae-steps", type=int, default=4000)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--inversion-steps", type=int, default=300)
    parser.add_argument("--n-prior", type=int, default=1000,
                        help="training images whose latents fit each prior")
    parser.add_argument("--generator", type=Path, default=None,
                        help="use the generator of this checkpoint instead of "
                        "training one; it must not have seen the held-out images")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    t_start = time.perf_counter()
    gt.seed_everything(args.seed)
    device = gt.resolve_device(args.device)
    print(f"gantutor {gt.__version__} | torch {torch.__version__} | device {device} | "
          f"threads {torch.get_num_threads()}")
    train, held_out = gencodec.codec_data(args.dataset)
    clf = gt.metrics.get_classifier(train.name, device)
    x, y = held_out.x[:args.n_eval], held_out.y[:args.n_eval]
    x_fit = train.x[:args.n_prior]

    t0 = time.perf_counter()
    if args.generator is not None:
        G = gt.load_generator(args.generator, device)
        print(f"generator: loaded from {args.generator}")
    else:
        G, D = gt.build_gan("mlp", train.shape, z_dim=args.z_dim, batch_norm=True)
        cfg = gt.TrainConfig(steps=args.gan_steps, seed=args.seed,
                             device=str(device), progress=False)
        gt.train_gan(G, D, train, cfg)
        print(f"generator: MLP GAN, {args.gan_steps} steps, "
              f"{time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    E = gencodec.LatentEncoder(train.shape, G.z_dim).to(device)
    gencodec.train_encoder(G, E, train.x, steps=args.encoder_steps, seed=args.seed)
    E_ae, dec = gencodec.build_autoencoder(G)
    dec.to(device)
    gencodec.train_autoencoder(E_ae, dec, train.x, steps=args.ae_steps,
                               seed=args.seed)
    print(f"encoder ({args.encoder_steps} steps) and autoencoder ({args.ae_steps} "
          f"steps): {time.perf_counter() - t0:.0f} s")

    n_cmp = min(200, len(x))
    rows = gencodec.compare_methods(G, E, x[:n_cmp], args.restarts,
                                    args.inversion_steps)
    print(f"\nfinding z for {n_cmp} held-out images (no quantisation):")
    print(gencodec.format_methods(rows))

    t0 = time.perf_counter()
    codecs = [
        gencodec.inversion_codec("GAN + inversion", G, E, args.restarts,
                                 args.inversion_steps, seed=args.seed),
        gencodec.encoder_codec("GAN + encoder", E, G),
        gencodec.encoder_codec("autoencoder", E_ae, dec),
    ]
    points = []
    for codec in codecs:
        codec.fit_prior(x_fit)
        points += ratedistortion.latent_points(codec, x, y, clf)
    points += ratedistortion.baseline_points(x, y, clf)
    print(f"\nrate-distortion on {len(x):,} held-out images "
          f"({time.perf_counter() - t0:.0f} s):")
    print(ratedistortion.format_rd_table(points))
    print(f"classifier on the original images: "
          f"{ratedistortion.class_kept(x, y, clf):.1%} correct")
    jpeg_low = ratedistortion.lowest_rate(points, "JPEG")
    print(f"lowest JPEG rate: {jpeg_low.setting}, {jpeg_low.bpp('set'):.3f} bpp "
          f"(set rule), {jpeg_low.bpp('file'):.3f} bpp (one file per image)")
    print(f"seconds={time.perf_counter() - t_start:.0f}")
    print(ratedistortion.rd_summary_line(points, "GAN + inversion"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
