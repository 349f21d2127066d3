"""Structure from motion: image folder -> cameras, sparse points, COLMAP model, report.

Stages (each a function over plain data, see its module): from the shared layer of
`pipelines`, `images.load_images`, `intrinsics.resolve_intrinsics` (file, EXIF via `exif`, or
a guess), `features.extract_features`, `pairs.select_pairs`, `matching.match_pairs` and
`matching.verify_pairs`; here `incremental.reconstruct` (with
`geom.bundle.bundle_adjust`); shared `export.write_sparse`; here `report.write_report`.
`pipeline.run` chains them for `mvdepth sfm`.
"""
from .pipeline import run, sparse_reconstruction
from .reconstruction import Reconstruction

__all__ = ["Reconstruction", "run", "sparse_reconstruction"]
