"""gantutor.compression."""
