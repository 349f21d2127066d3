"""report.html in a real browser: Debian's chromium, headless (SwiftShader WebGL), driven over
the DevTools protocol (`chromium_cdp`), network off. The report of a tiny dense sfm run loads
without console errors or requests, its 3D view draws into a WebGL canvas (not blank in the
screenshot) and a click on a camera shows that camera's image and numbers."""
import json
import time

import cv2
import numpy as np
import pytest

from chromium_cdp import CHROMIUM, Chromium
from pipelines.sfm.pipeline import run

pytestmark = pytest.mark.slow


def _wait(browser, expression, seconds=30):
    end = time.monotonic() + seconds
    while not browser.evaluate(expression):
        if time.monotonic() > end:
            raise TimeoutError(expression)
        time.sleep(0.1)


def test_report_in_headless_chromium(tmp_path, make_ring):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install -y chromium)")
    folder, K, _ = make_ring(4, 45, 240, 180)
    out = tmp_path / "out"
    rec = run(folder, out, K, progress=lambda msg: None, dense=True)
    browser = Chromium(tmp_path / "profile")
    try:
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.send(f"{domain}.enable")
        browser.send("Network.emulateNetworkConditions", offline=True, latency=0,
                     downloadThroughput=-1, uploadThroughput=-1)
        browser.send("Page.navigate", url=(out / "report.html").as_uri())
        _wait(browser, "document.readyState === 'complete' && !!window.mvdepthView")
        assert browser.evaluate("!!document.getElementById('view3d').getContext('webgl')")
        browser.evaluate("document.getElementById('view3d').scrollIntoView()")
        box = json.loads(browser.evaluate(
            "JSON.stringify(document.getElementById('view3d').getBoundingClientRect())"))
        shot = tmp_path / "view.png"
        browser.screenshot(shot)
        img = cv2.imread(str(shot))
        canvas = img[int(box["y"]) + 2:int(box["bottom"]) - 2, int(box["x"]) + 2:int(box["right"]) - 2]
        background = np.array([38, 33, 33])  # clearColor (0.13, 0.13, 0.15), BGR
        drawn = (np.abs(canvas.astype(int) - background).sum(axis=2) > 40).mean()
        assert 0.002 < drawn < 0.9, f"{drawn:.4f} of the canvas drawn"

        pixels = [browser.evaluate(f"window.mvdepthView.cameraPixel({k})")
                  for k in range(len(rec.cameras))]
        k = next(k for k, p in enumerate(pixels)
                 if p and 5 < p[0] < box["width"] - 5 and 5 < p[1] < box["height"] - 5)
        browser.click(box["x"] + pixels[k][0], box["y"] + pixels[k][1])
        _wait(browser, f"window.mvdepthView.selected() === {k}", 5)
        name = [n for n in rec.image_names if n in rec.cameras][k]
        info = browser.evaluate("document.getElementById('view3d-info').innerText")
        assert info.startswith(name) and "points seen" in info
        assert browser.evaluate("document.querySelector('#view3d-info img').src"
                                ).startswith("data:image/jpeg;base64,")
        browser.screenshot(tmp_path / "clicked.png")
    finally:
        browser.close()
    problems = [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert not problems, problems
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
