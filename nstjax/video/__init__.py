"""Video with temporal consistency (Ruder, Dosovitskiy & Brox, GCPR 2016): flow, warp, reading clips, the loop."""
