"""report.html in a real browser: Debian's chromium, headless, renders the report of a tiny sfm
run; the rendered DOM names every image and the screenshot shows the plots and the embedded
depth previews decoded (each found pixel for pixel in the screenshot)."""
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.sfm.pipeline import run

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1000, 5000)  # tall enough for the whole report of four images


def _chromium(profile, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={profile}", "--hide-scrollbars", "--force-device-scale-factor=1",
             f"--window-size={WINDOW[0]},{WINDOW[1]}"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, timeout=180,
                          check=True)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path, make_ring):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install -y chromium)")
    folder, K, _ = make_ring(4, 45, 240, 180)
    out = tmp_path / "out"
    rec = run(folder, out, K, progress=lambda msg: None, dense=True)
    page = (out / "report.html").as_uri()

    dom = _chromium(tmp_path / "profile", "--dump-dom", page).stdout.decode()
    assert dom.count("<svg") == 3  # camera layout and two histograms
    for name in rec.image_names:
        assert f"<td>{name}</td>" in dom  # the per-image table
        assert f"<figcaption>{name}</figcaption>" in dom  # its depth preview
    assert dom.count("src=\"data:image/png;base64,") == len(rec.image_names)

    shot = tmp_path / "shot.png"
    _chromium(tmp_path / "profile", f"--screenshot={shot}", page)
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])
    assert (img < 250).any(axis=2).mean() > 0.02  # not a blank page
    red = (np.abs(img.astype(int) - (0x22, 0x22, 0xCC)).sum(axis=2) < 30).sum()
    assert red > 9 * len(rec.cameras)  # the camera markers (#c22) of the layout plot were drawn
    for name in rec.image_names:  # each preview decoded and shown at its own size (240 px)
        preview = cv2.imread(str(out / "depth" / f"{Path(name).stem}.png"))
        score = cv2.matchTemplate(img, preview, cv2.TM_CCOEFF_NORMED).max()
        assert score > 0.95, f"{name}: depth preview not found in the screenshot ({score:.2f})"
