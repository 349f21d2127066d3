import re

from pipelines.cli import main


def test_demo_reports_small_errors_against_truth(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rotation = float(re.search(r"rotation error ([\d.]+) deg", out).group(1))
    direction = float(re.search(r"translation direction error ([\d.]+) deg", out).group(1))
    rows = float(re.search(r"median row difference ([\d.]+) px", out).group(1))
    assert rotation < 0.5 and direction < 0.5 and rows < 1.0, out
