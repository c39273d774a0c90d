"""Look at the daily job's artifact page as an operator would: a real Prefect server, `forecaster run`, and
headless Chromium on the artifact that holds the chart. Saves a PNG and checks it is not blank.

    python -m benchmarks.ui_screenshot --out /tmp/artifact.png

Needs Debian's `chromium` (apt-get install chromium); exits 2 saying so where it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.ports import free_port

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=15000",
    "--window-size=1400,1300",
]
ARTIFACT_KEY = "summary-demo-btc-usdt-1d"


def _wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return
        except OSError:
            if server.poll() is not None:
                raise SystemExit("the Prefect server exited while starting") from None
            time.sleep(0.5)
    raise SystemExit("the Prefect server did not start in 120 s")


def _newest_artifact(port: int, key: str) -> str:
    """The id of the newest version of the artifact ``key`` (Prefect's REST API)."""
    query = {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/artifacts/filter",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        (artifact,) = json.load(answer)
    return str(artifact["id"])


def screenshot(out: Path, work: Path) -> Path:
    """Run the daily job on the demo exchange under a fresh server, screenshot its chart artifact to ``out``."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium)")
    bin_dir = Path(sys.executable).parent
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PREFECT_", "FORECASTER_"))}
    env |= {
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FORECASTER_DATABASE_URL": f"sqlite:///{work / 'forecaster.db'}",
        "FORECASTER_DATA_DIR": str(work / "data"),
    }
    server = subprocess.Popen(
        [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(port, server)
        run = subprocess.run(
            [str(bin_dir / "forecaster"), "run", "--exchange", "demo", "--symbols", "BTC/USDT"],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if run.returncode != 0:
            raise SystemExit(f"forecaster run failed:\n{run.stdout}\n{run.stderr}")
        artifact_id = _newest_artifact(port, ARTIFACT_KEY)
        url = f"http://127.0.0.1:{port}/v2/artifacts/artifact/{artifact_id}"
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'chromium'}", f"--screenshot={out}", url],
            env=env,
            capture_output=True,
            timeout=180,
            check=True,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return out


def fan_pixels(path: Path) -> int:
    """Pixels of the screenshot in the orange of the chart's newest-forecast fan (matplotlib's tab:orange):
    none on a page without the chart, whatever else the UI draws (it has no orange)."""
    from matplotlib.image import imread

    pixels = imread(path)[..., :3]
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((red > 0.9) & (green > 0.35) & (green < 0.85) & (blue < 0.6)).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("artifact.png"))
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="forecaster-ui-") as work:
            shot = screenshot(args.out.resolve(), Path(work))
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    fan = fan_pixels(shot)
    print(f"wrote {shot}: {fan} pixels of the chart's forecast fan")
    if fan < 50:
        raise SystemExit("the artifact page shows no chart")


if __name__ == "__main__":
    main()
