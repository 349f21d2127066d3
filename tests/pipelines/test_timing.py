"""The stage timer: wall time, numba compilation and a per-stage peak of resident memory."""
import sys
import time

import numpy as np
from numba import njit

from pipelines.timing import Timer, peak_memory

MB = 2 ** 20


def test_timer_records_time_and_the_peak_memory_of_each_stage():
    timer = Timer()

    def big():
        a = np.ones(400 * MB // 8)  # 400 MB, touched, freed on return
        return float(a[::4096].sum())

    with timer.stage("big"):
        assert big() == 400 * MB // 8 // 4096
    for _ in range(2):  # a stage run twice adds up
        with timer.stage("sleep"):
            time.sleep(0.05)
    assert list(timer.stages) == ["big", "sleep"]
    assert timer.stages["sleep"] >= 0.1
    assert timer.peak_memory["big"] >= 400 * MB
    if sys.platform == "linux":  # the high-water mark is reset before each stage
        assert timer.peak_memory["sleep"] < timer.peak_memory["big"] - 300 * MB
    assert peak_memory() > 0


def test_timer_counts_numba_compilation_in_its_stage_only():
    timer = Timer()
    add = njit(lambda a, b: a + b)  # not cached: compiled at its first call
    with timer.stage("first call"):
        assert add(1.0, 2.0) == 3.0
    with timer.stage("second call"):
        assert add(3.0, 4.0) == 7.0
    assert 0 < timer.compilation["first call"] <= timer.stages["first call"]
    assert timer.compilation["second call"] == 0.0


def test_a_stage_that_raises_is_not_recorded():
    timer = Timer()
    try:
        with timer.stage("failing"):
            raise ValueError("bad input")
    except ValueError:
        pass
    assert timer.stages == {} and timer.compilation == {} and timer.peak_memory == {}
