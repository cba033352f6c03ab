"""Statistics of a comparison between variants: trade-off frontiers, intervals and tests over pairs.

The bottom floor beside ``model``: numpy and scipy only, pure functions over tables, no I/O and no JAX, so the
protocol can be checked against synthetic truths without running a single transfer.
"""
