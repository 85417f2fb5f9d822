"""Walking through a generator's latent space: linear and spherical interpolation.

In d dimensions a standard normal z has length close to √d (for d = 100, about 10 ±
0.7): nearly all of the prior's mass sits on a thin shell. The straight line between
two such points cuts inside the shell (its midpoint has length about √(d/2)), where
the generator was never trained; the great-circle path of :func:`slerp` stays on it
(White, "Sampling generative networks", 2016).
"""

from __future__ import annotations

import torch

from ..errors import GantutorError


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation z(t) = (1 - t) z0 + t z1."""
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float, eps: float = 1e-7,
          ) -> torch.Tensor:
    """Spherical interpolation along the great circle from z0 to z1.

    z(t) = sin((1 - t) Ω) / sin Ω · z0 + sin(t Ω) / sin Ω · z1, with
    cos Ω = z0·z1 / (|z0| |z1|). Works on the last dimension (batched); where z0 and
    z1 point the same way (sin Ω ≈ 0) it is the linear interpolation.
    """
    cos = (z0 * z1).sum(-1, keepdim=True) / (z0.norm(dim=-1, keepdim=True)
                                             * z1.norm(dim=-1, keepdim=True)
                                             ).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    safe = sin.abs() > eps
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    out = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / sin_safe
    return torch.where(safe, out, lerp(z0, z1, t))


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8,
                method: str = "slerp") -> torch.Tensor:
    """``steps`` points from z0 to z1 (both ends included): (d,) -> (steps, d)."""
    if steps < 2:
        raise GantutorError("an interpolation needs at least 2 steps (the two ends)")
    fn = {"lerp": lerp, "slerp": slerp}.get(method)
    if fn is None:
        raise GantutorError(f"unknown interpolation {method!r}: use lerp or slerp")
    ts = torch.linspace(0, 1, steps).tolist()
    return torch.stack([fn(z0, z1, t) for t in ts])


def generate(G, z: torch.Tensor, y=None) -> torch.Tensor:
    """G(z) (or G(z, y) for a conditional G) in eval mode, float32 on the CPU.

    ``y`` may be one class for every z or one label per z.
    """
    device = next(G.parameters()).device
    z = z.to(device)
    args = ()
    if getattr(G, "num_classes", 0):
        if y is None:
            raise GantutorError("this generator is conditional: give the class y")
        y = torch.as_tensor(y, device=device).long()
        args = (y.expand(len(z)) if y.dim() == 0 else y,)
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = G(z, *args)
    G.train(was_training)
    return x.float().cpu()


def class_sheet(G, per_class: int = 8, seed: int = 0,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples of a conditional G, ``per_class`` for each class, class by class.

    The same ``per_class`` noise vectors are used for every class, so a column of the
    sheet shows one z (one "style") across all the classes. Returns (x, y), sorted by
    class: x (K * per_class, *shape).
    """
    K = getattr(G, "num_classes", 0)
    if not K:
        raise GantutorError("a class sheet needs a conditional generator "
                            "(build_gan(..., num_classes=K))")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(per_class, G.z_dim, generator=gen)
    z = z.repeat(K, 1)  # (per_class, d) -> (K * per_class, d)
    y = torch.arange(K).repeat_interleave(per_class)
    return generate(G, z, y), y
