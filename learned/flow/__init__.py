"""Optical flow: RAFT-style network (`raft`), sequence loss (`loss`), metrics (`metrics`),
synthetic training pairs (`data`) and the training script (`train`)."""
