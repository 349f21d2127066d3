import numpy as np
import pytest

from geom import synth
from geom.io import load_cameras_json
from pipelines.intrinsics import save_intrinsics


@pytest.fixture(scope="session")
def make_ring(tmp_path_factory):
    """`make_ring(views, arc_degrees, width=320, height=240)` -> (image folder, intrinsics file,
    true cameras) of a synthetic ring (`geom.synth.orbit_ring`, seed 0) in a fresh folder."""
    def make(views, arc_degrees, width=320, height=240):
        root = tmp_path_factory.mktemp("ring")
        scene = synth.orbit_ring(views, 0, width, height, arc=np.radians(arc_degrees))
        images = synth.write_folder(synth.render(scene), root / "ring")
        truth = load_cameras_json(images / "cameras.json")
        save_intrinsics(root / "K.txt", {n: c.K for n, c in truth.items()})
        return images, root / "K.txt", truth
    return make
