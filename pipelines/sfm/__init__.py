"""Structure from motion: image folder -> cameras, sparse points, COLMAP model, report.

Stages (each a function over plain data, see its module): `images.load_images`,
`images.resolve_intrinsics` (file, EXIF via `exif`, or a guess), `features.extract_features`,
`pairs.select_pairs`, `features.match_and_verify`,
`incremental.reconstruct` (with `geom.bundle.bundle_adjust`), `export.write_sparse`,
`report.write_report`; `pipeline.run` chains them for `mvdepth sfm`.
"""
from geom.bundle import bundle_adjust

from .pipeline import run, sparse_reconstruction
from .reconstruction import Reconstruction

__all__ = ["Reconstruction", "bundle_adjust", "run", "sparse_reconstruction"]
