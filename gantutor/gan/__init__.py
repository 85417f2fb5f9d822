"""gantutor.gan."""
