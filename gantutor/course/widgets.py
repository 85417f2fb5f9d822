"""Interactive widgets for the notebooks (ipywidgets), each with a static twin in
``gantutor.plot`` so a notebook reads the same where widgets are not rendered."""

from __future__ import annotations

import math

from ..gan.objective import Gaussian, js_divergence, optimal_value


def dstar_readout(p: Gaussian, q: Gaussian) -> str:
    """One line: V(D*, G), 2·JSD − log 4 and JSD (nats and bits) for data p, model q."""
    v, jsd = optimal_value(p, q), js_divergence(p, q)
    return (f"V(D*, G) = {v:.4f}   2·JSD − log 4 = {2 * jsd - math.log(4):.4f}   "
            f"JSD = {jsd:.4f} nats = {jsd / math.log(2):.4f} bits")


def dstar_explorer(p: Gaussian | None = None, mu: float = 2.0, sigma: float = 0.7):
    """Sliders for the generator's mean and spread; moving them redraws p, q and
    D* = p/(p+q) and updates V(D*, G) and JSD(p‖q).
    Static twin: ``gt.objective.plot_dstar``.

    Returns the widget (a VBox); ``.sliders`` and ``.readout`` are its parts.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from ..gan.objective import plot_dstar

    p = p or Gaussian(0.0, 1.0)
    mu_slider = w.FloatSlider(value=mu, min=-5.0, max=5.0, step=0.1,
                              description="mean μ_q", continuous_update=False)
    sigma_slider = w.FloatSlider(value=sigma, min=0.2, max=3.0, step=0.05,
                                 description="spread σ_q", continuous_update=False)
    readout = w.HTML()
    out = w.Output()

    def redraw(_change=None):
        q = Gaussian(mu_slider.value, sigma_slider.value)
        readout.value = f"<code>{dstar_readout(p, q)}</code>"
        fig = plot_dstar(p, q, title=f"p = N({p.mu:g}, {p.sigma:g}²),  "
                                     f"q = N({q.mu:.2f}, {q.sigma:.2f}²)")
        out.outputs = ()
        out.append_display_data(fig)
        plt.close(fig)

    mu_slider.observe(redraw, names="value")
    sigma_slider.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([mu_slider, sigma_slider]), readout, out])
    box.sliders, box.readout, box.output = (mu_slider, sigma_slider), readout, out
    return box


def latent_slider(G, z0, z1, y=None, method: str = "slerp", steps: int = 41):
    """A slider t ∈ [0, 1] walking from z0 to z1 (``method``: slerp or lerp); moving
    it shows G(z(t)) and |z(t)|. Static twin: ``gt.plot.image_rows`` of
    ``gt.latent.interpolate``. The images are computed once, up front, so the slider
    responds instantly. Returns the widget (a VBox); ``.slider`` is its slider.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from .. import plot
    from ..gan import latent

    path = latent.interpolate(z0, z1, steps, method)  # (steps, d)
    images = latent.generate(G, path, y)
    slider = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=1 / (steps - 1),
                           description="t", continuous_update=True,
                           readout_format=".2f")
    out = w.Output()

    def redraw(_change=None):
        i = round(slider.value * (steps - 1))
        fig, ax = plt.subplots(figsize=(2.2, 2.4))
        plot.show_images(images[i:i + 1], ax=ax,
                         title=f"{method}, t = {i / (steps - 1):.2f}\n"
                               f"|z(t)| = {float(path[i].norm()):.2f}")
        out.outputs = ()
        out.append_display_data(fig)
        plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    box = w.VBox([slider, out])
    box.slider, box.output = slider, out
    return box
