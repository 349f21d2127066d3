"""Monocular depth: U-Net (`unet`), losses (`losses`), metrics (`metrics`), synthetic RGB-D
batches (`data`) and the supervised training script (`train`)."""
