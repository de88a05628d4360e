"""Staged model weights: the deployment's own weights bucket and the pipeline's access to stage into it."""
