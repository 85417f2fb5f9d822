"""gantutor.course."""
