"""Learned plug-ins (torch): optical flow and monocular depth. Not yet implemented."""
