"""Progress of long runs, on stderr (shared by the pipelines and `learned`'s training).

A stage takes `progress`, a callable(message). Counted work (features per image, matching per
pair, depth maps ...) goes through `count(progress, what, done, total)`: a `Progress` draws it as
a tqdm bar with rate and time left on a terminal, and as plain lines with the same numbers at
every tenth elsewhere (CI, logs) or when tqdm is not installed; any other callable gets the
plain lines without rate. `Progress(quiet=True)` says nothing.
"""
import sys
import time

try:
    import tqdm
except ImportError:  # the optional extra `progress`
    tqdm = None


class Progress:
    """Messages and counted work of one run. stream: where to write (default: sys.stderr at the
    time of writing); bars: tqdm bars (default: when tqdm is installed and the stream is a tty)."""

    def __init__(self, quiet=False, stream=None, bars=None):
        self.quiet = quiet
        self._stream = stream
        self._bars = bars
        self._open = {}  # what -> tqdm bar, or (time, done) of its first count in line mode

    @property
    def stream(self):
        return self._stream or sys.stderr

    def _use_bars(self):
        if tqdm is None:
            return False
        if self._bars is not None:
            return self._bars
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, message):
        if self.quiet:
            return
        if any(not isinstance(v, tuple) for v in self._open.values()):
            tqdm.tqdm.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def count(self, what, done, total, last=False):
        """`done` of `total` items of `what` are done; `last`: no more will come (done < total
        when some were skipped)."""
        if self.quiet:
            return
        if self._use_bars():
            bar = self._open.get(what)
            if bar is None:
                bar = self._open[what] = tqdm.tqdm(total=total, desc=what, file=self.stream,
                                                   dynamic_ncols=True)
            bar.update(done - bar.n)
            if last or done >= total:
                bar.close()
                del self._open[what]
            return
        now = time.perf_counter()
        t0, d0 = self._open.setdefault(what, (now, done))
        end = last or done >= total
        if end:
            del self._open[what]
        if end or done % max(1, total // 10) == 0:
            rate = (done - d0) / (now - t0) if now > t0 and done > d0 else None
            left = "" if rate is None or end else f", {(total - done) / rate:.0f} s left"
            print(f"{what}: {done}/{total}" + ("" if rate is None else f" ({rate:.3g}/s{left})"),
                  file=self.stream, flush=True)


STDERR = Progress()  # the default of every stage: on stderr, bars on a terminal


def count(progress, what, done, total, last=False):
    """Report `done` of `total` items of `what` to `progress` (see the module docstring)."""
    if isinstance(progress, Progress):
        progress.count(what, done, total, last)
    elif last or done >= total or done % max(1, total // 10) == 0:
        progress(f"{what}: {done}/{total}")


def counter(progress, what):
    """callable(done, total) reporting `what` to `progress`, for stages that count."""
    return lambda done, total: count(progress, what, done, total)
