"""Pipelines from image folders to reconstructions, and the `mvdepth` command line."""
