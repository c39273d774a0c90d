"""The chart is visible in the Prefect UI: headless Chromium on the artifact page (skipped without Chromium)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from benchmarks.ui_screenshot import fan_pixels, screenshot

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
@pytest.mark.skipif(not (Path(sys.executable).parent / "prefect").exists(), reason="no prefect command")
def test_the_artifact_page_shows_the_chart(tmp_path):
    shot = screenshot(tmp_path / "artifact.png", tmp_path)
    assert shot.stat().st_size > 20_000
    assert fan_pixels(shot) >= 50  # the chart's orange forecast fan: the image itself is on the page
