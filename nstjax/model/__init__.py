"""The network: VGG19 layer names, pooling variants, convolution algorithms (no file I/O here)."""
