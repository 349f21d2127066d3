"""Synthetic scenes with complete ground truth, rendered by numba ray casting.

    from geom.synth import moving_bodies, render
    seq = render(moving_bodies(n_bodies=2, n_frames=3, seed=0, width=320, height=240))
    seq.frames[0].image, seq.frames[0].depth, seq.frames[0].labels  # RGB, camera z, body ids
    flow, occluded = seq.flow(0, 1)

Scenes (`scene`), generators (`generators`), the renderer and ground truth (`render`), and the
folder writer (`io`). World frame z up; poses and pixels follow the house conventions.
"""
from .generators import flying_layers, moving_bodies, orbit_ring, random_scene, stereo_rig
from .io import write_folder
from .render import Frame, Sequence, flow, render, render_frame
from .scene import Body, Light, Scene, Shape, Texture

__all__ = ["Body", "Frame", "Light", "Scene", "Sequence", "Shape", "Texture", "flow",
           "flying_layers", "moving_bodies", "orbit_ring", "random_scene", "render",
           "render_frame", "stereo_rig", "write_folder"]
