"""gantutor.evaluation."""
