"""The exercise checks of notebook 10, scaling up.

The FLOPs of a GAN step and the roofline time.
"""

from .. import scaling
from .core import Case, Mistake, Spec, exercise

_CLASSIC_G = ((100, 256), (256, 512), (512, 784))
_CLASSIC_D = ((784, 512), (512, 256), (256, 1))


def _flops_parts(b, g_layers, d_layers):
    """Forward FLOPs of G and D and of their first layers."""
    f_g = [2 * b * i * o for i, o in g_layers]
    f_d = [2 * b * i * o for i, o in d_layers]
    return sum(f_g), f_g[0], sum(f_d), f_d[0]


def _flops_d_not_frozen(b, g, d):
    f_g, f_g1, f_d, f_d1 = _flops_parts(b, g, d)
    return 3 * f_g - f_g1 + 9 * f_d - 2 * f_d1


def _flops_all_input_gradients(b, g, d):
    f_g, _, f_d, _ = _flops_parts(b, g, d)
    return 3 * f_g + 8 * f_d


def _flops_six_n_rule(b, g, d):
    f_g, _, f_d, _ = _flops_parts(b, g, d)
    return 3 * f_g + 3 * f_d


@exercise
def gan_step_flops():
    """Checks ``fn(batch_size, g_layers, d_layers)``: the FLOPs of one train_gan step
    of an MLP GAN whose layers are given as ((n_in, n_out), ...), with
    F = 2·B·n_in·n_out per layer and pass (forward, weight gradient, input gradient).
    """
    return Spec(
        reference=scaling.gan_step_flops,
        cases=[Case("the classic MNIST GAN at batch 64", 64, _CLASSIC_G, _CLASSIC_D),
               Case("one layer each, batch 1", 1, ((2, 3),), ((3, 1),)),
               Case("a 2-D mixture GAN at batch 32", 32, ((10, 20), (20, 2)),
                    ((2, 20), (20, 20), (20, 1)))],
        mistakes=[
            Mistake(lambda b, g, d: scaling.gan_step_flops(b, g, d) / 2,
                    "these are multiply-adds; a multiply-add is 2 FLOPs."),
            Mistake(_flops_d_not_frozen, "this counts D's weight gradients in G's "
                    "step too, as the DCGAN tutorial's loop computes them; train_gan "
                    "freezes D there (input gradients only), saving one F_D."),
            Mistake(_flops_all_input_gradients, "no input gradient is computed for "
                    "G's first layer (the noise is not learned), nor for D's first "
                    "layer in D's step (real data and detached fakes): subtract F_G1 "
                    "and 2·F_D1."),
            Mistake(_flops_six_n_rule, "the 6·parameters·batch rule counts one "
                    "forward and one backward pass per network; a GAN step runs D "
                    "three times (real, fake, and fake again for G)."),
        ],
    )


@exercise
def roofline_seconds():
    """Checks ``fn(flops, bytes_moved, peak_flops, bandwidth)``: the least time a
    step can take when its arithmetic and its memory traffic overlap."""
    return Spec(
        reference=scaling.roofline_seconds,
        cases=[Case("compute-bound: 1 TFLOP and 1 GB on 100 TFLOPS, 1 TB/s",
                    1e12, 1e9, 1e14, 1e12),
               Case("memory-bound: 1 GFLOP and 1 GB on 100 TFLOPS, 2 TB/s",
                    1e9, 1e9, 1e14, 2e12),
               Case("an MLP GAN step on an H100: 1.5 GFLOP, 60 MB, 989 TFLOPS, "
                    "3.35 TB/s", 1.5e9, 6e7, 989e12, 3.35e12)],
        mistakes=[
            Mistake(lambda f, b, p, w: f / p + b / w, "this is the sum: arithmetic "
                    "and memory traffic overlap, so the step takes as long as the "
                    "slower of the two, not both one after the other."),
            Mistake(lambda f, b, p, w: f / p, "this ignores memory: a step that does "
                    "little arithmetic per byte waits for the memory (bytes / "
                    "bandwidth)."),
            Mistake(lambda f, b, p, w: min(f / p, b / w), "the step cannot finish "
                    "before its slower part: take the larger of the two times."),
        ],
    )
