"""Runs: configuration, one run, batched sweeps, figure grids, devices and memory guards."""
