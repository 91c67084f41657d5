"""The size of `pip install shopguide`, as the README tells a new shop to install it.

CPU: the built wheel into a fresh virtualenv after the README's torch step (the CPU build; on
this machine torch==2.13.0 comes from local disk through pip's configured find-links), measured
with du after each step. CUDA: what PyPI's default torch build would add instead, resolved with
`pip install --dry-run --report` against PyPI (metadata only, nothing big is downloaded) and the
wheel sizes PyPI's JSON simple API lists; it needs the network, and prints download sizes (the
unpacked size is larger, and not measured).

    .venv/bin/python -m bench.install_size [--torch torch==2.13.0] [--skip-cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1e6


def pip(python: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, check=True, env=env)


def cpu_sizes(work: Path, torch: str) -> list[tuple[str, float]]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((work / "dist").glob("shopguide-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    rows = [("empty virtualenv", du_mb(venv))]
    pip(python, "install", "-q", torch)
    rows.append((f"+ {torch} (README's CPU step)", du_mb(venv)))
    pip(python, "install", "-q", f"{wheel}[redis]")
    rows.append(('+ pip install "shopguide[redis]"', du_mb(venv)))
    torch_dir = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "torch"
    rows.append(("  of which site-packages/torch", du_mb(torch_dir)))
    version = pip(python, "show", "torch").stdout.split("Version:")[1].split()[0]
    rows.append((f"  torch installed: {version}", float("nan")))
    return rows


def cuda_download_sizes(work: Path, torch: str) -> list[tuple[str, float]]:
    """PyPI's default build of ``torch`` and what it pulls in, by wheel size."""
    import os

    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_CONSTRAINT": ""}
    report = work / "cuda-report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "-q",
            "--report",
            str(report),
            "--index-url",
            "https://pypi.org/simple",
            torch,
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    rows = []
    for item in json.loads(report.read_text())["install"]:
        name, filename = item["metadata"]["name"], item["download_info"]["url"].rsplit("/", 1)[-1]
        request = urllib.request.Request(
            f"https://pypi.org/simple/{name.lower().replace('_', '-')}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response)["files"]
        size = next((f.get("size") or 0 for f in files if f["filename"] == filename), 0)
        rows.append((f"{name} {item['metadata']['version']}", size / 1e6))
    return sorted(rows, key=lambda row: -row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", default="torch==2.13.0")
    parser.add_argument("--skip-cuda", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shopguide-install-size-") as tmp:
        work = Path(tmp)
        print(
            f"CPU: a fresh virtualenv (Python {sys.version_info.major}.{sys.version_info.minor}), du "
            "-sb after each step"
        )
        for label, mb in cpu_sizes(work, args.torch):
            print(f"  {label:<44} {mb:9,.0f} MB" if mb == mb else f"  {label}")
        if args.skip_cuda:
            return
        rows = cuda_download_sizes(work, args.torch)
        print(f"\nCUDA: PyPI's default {args.torch} and its dependencies, wheel (download) sizes")
        for label, mb in rows:
            if mb >= 1:
                print(f"  {label:<44} {mb:9,.0f} MB")
        nvidia = sum(1 for label, _ in rows if label.startswith("nvidia"))
        print(
            f"  {'total, ' + str(len(rows)) + ' wheels (' + str(nvidia) + ' nvidia-*)':<44} "
            f"{sum(mb for _, mb in rows):9,.0f} MB"
        )


if __name__ == "__main__":
    main()
