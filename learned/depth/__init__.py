"""Monocular depth: U-Net (`unet`), losses (`losses`), metrics (`metrics`), synthetic RGB-D
batches (`data`: toy planes; `scenes`: rendered `geom.synth` scenes), real posed views for
self-supervision (`views`: image sets with their cameras, rectified stereo pairs) and the
training script (`train`)."""
