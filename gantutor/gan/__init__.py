"""GANs: what a run is told, the networks, the losses and the loop that trains them.

- ``config``: :class:`TrainConfig` (every training setting, its default and help
  text, from which the command line is generated), the model and loss names, the
  per-dataset defaults. Imports no torch, so ``gantutor --help`` is instant.
- ``models``: MLP and DCGAN generators and discriminators (discriminators return
  logits), ``build_gan``.
- ``losses``: one formula per function (minimax, non-saturating, hinge, Wasserstein,
  gradient penalty, R1) and the empirical risk they are instances of.
- ``steps``: one discriminator update and one generator update, written once.
- ``train``: ``train_gan`` (device, precision, DDP, resume, checkpoints, NaN stop,
  the log window) and ``sample``/``load_generator``.
- ``restore``: every part of a checkpoint checked before it is used.
- ``distributed``: torch.distributed and DDP set-up and tear-down.
- ``objective``: the GAN objective on 1-D Gaussians in closed form (D*, V, JSD).
- ``latent``: walks through a generator's latent space.

May import: the foundations (``gantutor.errors``, ``env``, ``data``, ``checkpoint``,
``plot``). Nothing here imports ``evaluation``, ``compression``, ``course`` or ``cli``.
"""
