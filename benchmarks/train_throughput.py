"""Training throughput: ``gt.train_gan`` against two hand-written loops.

On the same networks, batch size and data, in steps per second:

- reference: the loop as the PyTorch DCGAN tutorial writes it (DataLoader over a
  TensorDataset, Sigmoid + BCELoss, ``.item()`` every step), fp32;
- minimal: ``train_gan``'s own algorithm and settings with nothing else (no history,
  NaN check, progress bar or checkpoints), so train_gan / minimal is the price of
  train_gan's bookkeeping;
- train_gan with the speed-ups this device supports: bf16 autocast where the device
  has bf16 units (a CUDA GPU with native bf16, a CPU with AMX or AVX-512 BF16), and
  channels-last memory for the DCGAN; and, for information, train_gan in fp32.

Each round measures every loop once, in a rotating order, timing windows of a few
steps. A loop's rate is that of its fastest window over all rounds: on a shared
machine, the least disturbed measurement (as ``timeit`` advises); the median over the
rounds is printed beside it. The ratios divide the fastest rates. On CUDA the
script also counts the DCGAN step's FLOPs and reports the fraction of the GPU's dense
bf16 matrix peak that train_gan achieves.

    python benchmarks/train_throughput.py                # MNIST if found, else digits
    python benchmarks/train_throughput.py --rounds 3     # quicker, noisier (default 7)
    python benchmarks/train_throughput.py --fp32         # no bf16, even where supported

The last line is ``mlp_vs_reference=<x> mlp_vs_minimal=<x> dcgan_vs_reference=<x>
dcgan_vs_minimal=<x> device=<name>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gantutor as gt  # noqa: E402
from gantutor import scaling  # noqa: E402

# train_gan's settings in the comparison (the minimal loop uses the same ones): bf16
# autocast where the device has bf16 units, channels-last for the convolutions. A
# "fp32" row shows train_gan without autocast, for information; the DCGAN's fraction
# of a GPU's bf16 peak is measured with PEAK_SETTINGS.
PEAK_SETTINGS = {"amp": True, "channels_last": True}


def fast_settings(model: str, device, fp32: bool = False) -> dict:
    """The speed-ups train_gan is measured with on this device."""
    settings = {"channels_last": True} if model == "dcgan" else {}
    if not fp32 and gt.env.bf16_supported(device):
        settings["amp"] = True
    return settings


def describe(settings: dict) -> str:
    names = (("bf16 autocast", "amp"), ("channels-last", "channels_last"))
    words = [name for name, key in names if settings.get(key)]
    return ", ".join(words) or "fp32"


def measure(model, data, device, batch_size, rounds, windows, log_every, fp32=False):
    """Per loop: its settings and its rates (fastest window) in every round."""
    fast = fast_settings(model, device, fp32)
    loops = {
        "reference": (scaling.reference_loop, {}),
        "minimal": (scaling.minimal_loop, fast),
        "train_gan": (gt.train_gan, fast),
    }
    if fast.get("amp"):
        loops["train_gan fp32"] = (gt.train_gan,
                                   fast_settings(model, device, fp32=True))
    rates = {name: [] for name in loops}
    names = list(loops)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            run, settings = loops[name]
            torch.manual_seed(0)
            G, D = gt.build_gan(model, data.shape)
            cfg = gt.TrainConfig(steps=(windows + 1) * log_every, batch_size=batch_size,
                                 log_every=log_every, checkpoint_every=log_every,
                                 device=str(device), **settings)
            rates[name].append(scaling.steps_per_second(run, G, D, data, cfg,
                                                        best=True))
    return loops, rates


def peak_fraction(data, device, batch_size, log_every):
    """DCGAN train_gan: FLOPs per step, achieved TFLOPS and fraction of the peak."""
    settings = PEAK_SETTINGS
    torch.manual_seed(0)
    G, D = gt.build_gan("dcgan", data.shape)
    cfg = gt.TrainConfig(steps=4 * log_every, batch_size=batch_size,
                         log_every=log_every, checkpoint_every=log_every,
                         device=str(device), **settings)
    flops = scaling.step_cost(G, D, data, cfg).flops
    rate = scaling.steps_per_second(gt.train_gan, G, D, data, cfg)
    achieved = flops * rate / 1e12
    peak = scaling.peak_tflops(device)
    share = f"{achieved / peak:.2%} of the {peak:.0f} TFLOPS bf16 peak" if peak else \
        "peak unknown for this GPU (add it to gantutor.course.scaling.PEAK_TFLOPS)"
    print(f"dcgan train_gan at batch {batch_size}: {flops / 1e9:.2f} GFLOP per step, "
          f"{rate:.1f} steps/s = {achieved:.2f} TFLOPS, {share}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: 128 on CUDA, 64 elsewhere")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--windows", type=int, default=4,
                   help="timed windows per measurement (after one warm-up window)")
    p.add_argument("--fp32", action="store_true",
                   help="measure train_gan without bf16 autocast even where supported")
    args = p.parse_args(argv)
    device = gt.resolve_device(args.device)
    batch = args.batch_size or (128 if device.type == "cuda" else 64)
    data = gt.data.load_or_digits("mnist", split="auto")
    print(gt.data.dataset_report(data))
    name = scaling.device_name(device)
    print(f"device {name}, torch {torch.__version__}, batch {batch}, {args.rounds} "
          "rounds")
    gpu = device.type == "cuda"
    t0 = time.perf_counter()
    ratios = {}
    print(f"{'model':6} {'loop':16} {'settings':28} {'steps/s':>8} {'median':>8} "
          f"{'samples/s':>10} {'vs reference':>13}")
    for model in ("mlp", "dcgan"):
        # timed windows of a few hundred milliseconds on a CPU: long enough that the
        # scheduler's jitter does not decide the fastest window
        log_every = (50 if model == "mlp" else 20) if gpu else (40 if model == "mlp"
                                                                  else 4)
        loops, rates = measure(model, data, device, batch, args.rounds, args.windows,
                               log_every, args.fp32)
        best = {loop: max(r) for loop, r in rates.items()}
        for loop, (_, settings) in loops.items():
            what = "fp32, DataLoader, .item()" if loop == "reference" else \
                describe(settings)
            print(f"{model:6} {loop:16} {what:28} {best[loop]:8.1f} "
                  f"{statistics.median(rates[loop]):8.1f} {best[loop] * batch:10.0f} "
                  f"{best[loop] / best['reference']:13.2f}")
        ratios[model] = {other: best["train_gan"] / best[other]
                         for other in ("reference", "minimal")}
        medians = {loop: statistics.median(r) for loop, r in rates.items()}
        print(f"{model}: the same ratios from the medians: train_gan / reference "
              f"{medians['train_gan'] / medians['reference']:.2f}, train_gan / minimal "
              f"{medians['train_gan'] / medians['minimal']:.2f}")
    if gpu:
        for b in (batch, 1024):
            peak_fraction(data, device, b, 20)
    print(f"measured in {time.perf_counter() - t0:.0f} s")
    print(f"mlp_vs_reference={ratios['mlp']['reference']:.2f} "
          f"mlp_vs_minimal={ratios['mlp']['minimal']:.2f} "
          f"dcgan_vs_reference={ratios['dcgan']['reference']:.2f} "
          f"dcgan_vs_minimal={ratios['dcgan']['minimal']:.2f} device={name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
