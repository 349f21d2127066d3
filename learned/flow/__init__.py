"""Optical flow: RAFT-style network (`raft`), sequence loss (`loss`), metrics (`metrics`),
synthetic training pairs (`data`), the training script (`train`) and the colour-wheel
preview (`preview.flow_to_color`)."""
