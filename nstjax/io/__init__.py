"""Files: images, weights, checkpoints, run logs and reports, all written atomically."""
