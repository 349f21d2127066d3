"""Progress: plain lines with rate when the stream is not a terminal, bars on one, nothing when
quiet, and plain lines for any callable."""
import io

from geom import progress
from geom.progress import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_tty():
    out = io.StringIO()
    p = Progress(stream=out)
    p("starting")
    for done in range(1, 21):
        progress.count(p, "features", done, 20)
    lines = out.getvalue().splitlines()
    assert lines[0] == "starting"
    assert [ln.split(" (")[0] for ln in lines[1:]] == [f"features: {d}/20" for d in range(2, 21, 2)]
    assert "/s" in lines[-1] and "\r" not in out.getvalue()  # a rate, no bar redraws


def test_last_ends_a_count_short_of_its_total():
    out = io.StringIO()
    p = Progress(stream=out)
    progress.count(p, "registered images", 2, 7)
    progress.count(p, "registered images", 5, 7, last=True)
    assert out.getvalue().splitlines()[-1].startswith("registered images: 5/7")
    assert not p._open


def test_quiet_says_nothing():
    out = _Tty()
    p = Progress(quiet=True, stream=out)
    p("message")
    for done in range(1, 5):
        progress.count(p, "matching pairs", done, 4)
    assert out.getvalue() == ""


def test_bar_on_a_terminal():
    out = _Tty()
    p = Progress(stream=out)
    for done in range(1, 5):
        progress.count(p, "matching pairs", done, 4)
    assert "matching pairs" in out.getvalue() and "4/4" in out.getvalue() and "\r" in out.getvalue()


def test_plain_callable_gets_lines():
    seen = []
    count = progress.counter(seen.append, "depth maps")
    for done in range(1, 4):
        count(done, 3)
    assert seen == ["depth maps: 1/3", "depth maps: 2/3", "depth maps: 3/3"]
