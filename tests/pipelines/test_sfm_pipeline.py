"""The pipeline's Timer: wall time and a per-stage peak of resident memory."""
import sys
import time

import numpy as np
import pytest

from pipelines.sfm.pipeline import match_images
from pipelines.timing import Timer, peak_memory

MB = 2 ** 20


def test_timer_records_time_and_the_peak_memory_of_each_stage():
    timer = Timer()

    def big():
        a = np.ones(400 * MB // 8)  # 400 MB, touched, freed on return
        return float(a[::4096].sum())

    assert timer("big", big) == 400 * MB // 8 // 4096
    timer("sleep", time.sleep, 0.05)
    timer("sleep", time.sleep, 0.05)  # a stage run twice adds up
    assert list(timer.stages) == ["big", "sleep"]
    assert timer.stages["sleep"] >= 0.1
    assert timer.peak_memory["big"] >= 400 * MB
    if sys.platform == "linux":  # the high-water mark is reset before each stage
        assert timer.peak_memory["sleep"] < timer.peak_memory["big"] - 300 * MB
    assert peak_memory() > 0


def test_an_unknown_pair_method_fails_before_reading_images(tmp_path):
    with pytest.raises(ValueError, match="pairs: expected one of"):
        match_images(tmp_path / "missing", pair_method="nearest")
