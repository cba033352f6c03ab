"""What is minimised and measured: loss terms, style statistics, conventions, the compiled objective,
the normalised network, per-machine convolution plans and the fixed yardstick."""
