"""Stage timing: wall time, numba compilation time and peak resident memory per named stage."""
import re
import resource
import time
from contextlib import contextmanager
from pathlib import Path

from numba.core import event

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class _CompileClock(event.Listener):
    """Seconds spent compiling numba functions since import (`total`): outermost compilations
    only (one compiles its callees inside it); loading from numba's cache is not compiling."""

    def __init__(self):
        self.total = 0.0
        self._depth = 0
        self._start = 0.0

    def on_start(self, ev):
        if self._depth == 0:
            self._start = time.perf_counter()
        self._depth += 1

    def on_end(self, ev):
        self._depth -= 1
        if self._depth == 0:
            self.total += time.perf_counter() - self._start


_COMPILE_CLOCK = _CompileClock()
event.register("numba:compile", _COMPILE_CLOCK)  # numba compiles under one lock, one at a time


class Timer:
    """Wall time (seconds, `stages`), of which numba compilation (seconds, `compilation`), and
    peak resident memory (bytes, `peak_memory`) per named stage, in the order run:
    `with timer.stage("matching"): pairs = match(...)`; a stage run twice adds up.

    Peak memory is the process's resident set high-water mark (Linux VmHWM) over the stage,
    reset before it by writing 5 to /proc/self/clear_refs. Where /proc is missing it is the
    process's peak so far (`resource.getrusage` ru_maxrss), which never goes down."""

    def __init__(self):
        self.stages = {}
        self.peak_memory = {}
        self.compilation = {}

    @contextmanager
    def stage(self, name):
        """Time the block as (part of) stage `name`; a block that raises is not recorded."""
        _reset_peak_memory()
        t0, c0 = time.perf_counter(), _COMPILE_CLOCK.total
        yield
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0
        self.compilation[name] = self.compilation.get(name, 0.0) + _COMPILE_CLOCK.total - c0
        self.peak_memory[name] = max(self.peak_memory.get(name, 0), peak_memory())


def peak_memory():
    """Resident set high-water mark of this process in bytes (see `Timer`)."""
    try:
        return int(re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())[1]) * 1024
    except (OSError, TypeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _reset_peak_memory():
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass
