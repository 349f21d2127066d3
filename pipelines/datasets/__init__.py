"""Readers for the public benchmark excerpts used by tests and benchmarks.

The data live outside the repository: `$MVDEPTH_DATA`, else `../shared/data` next to the
project root. One module per dataset (its file formats are in the data's SOURCE.md files).
"""
import os
from pathlib import Path

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_root():
    """The benchmark data folder, or None when it is not there."""
    root = Path(os.environ.get("MVDEPTH_DATA", _PROJECT_ROOT.parent / "shared" / "data"))
    return root if root.is_dir() else None


def dataset_path(name):
    """Folder of one dataset (e.g. 'cmp_kusvod2_fundamental'), or None when it is missing."""
    root = data_root()
    path = None if root is None else root / name
    return path if path is not None and path.is_dir() else None
