"""Training: the loop, its callbacks, the optimizer, checkpoints, devices and the fit of one or more models."""
