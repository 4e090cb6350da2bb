"""Training: the built-in procedural data set."""
