"""Monocular depth: U-Net (`unet`), losses (`losses`), metrics (`metrics`), synthetic RGB-D
batches (`data`: toy planes; `scenes`: rendered `geom.synth` scenes) and the training script
(`train`)."""
