"""Screenshots of the explorer's main views over a trained run, for the README and docs/server.md.

    python benchmarks/explorer_screenshots.py runs/demo/model docs/img

Starts ``biobridge serve RUN_DIR`` on a free loopback port, opens permalinks in headless Chromium (Debian's
``chromium`` + ``chromium-driver`` through selenium) and saves one PNG per view: a protein's biological
processes and a free-text disease's genes (the node page, multi-hop and error screenshots come from the
browser test over the tests' small run).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

VIEWS = {  # P04637 is TP53 in the default KG
    "explorer-retrieve": {
        "mode": "retrieve",
        "q": "P04637",
        "qt": "protein",
        "tt": "biological_process",
        "k": 10,
    },
    "explorer-text": {
        "mode": "retrieve",
        "q": "familial Parkinson disease",
        "qt": "disease",
        "tt": "protein",
    },
    "explorer-node": {
        "mode": "retrieve",
        "q": "enalapril",
        "qt": "drug",
        "tt": "protein",
        "node": "protein:P12821",
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "biobridge.cli", "serve", str(args.run), "--port", str(port)]
    )
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/api/v1/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, params in VIEWS.items():  # a view that never shows up fails here with a timeout
            browser.get(f"{base}/?{urlencode(params)}")
            want = (
                "#error" if name == "explorer-error" else "#path-results tr" if "path" in params else "tr.hit"
            )

            def ready(driver, want=want):
                found = driver.find_elements(By.CSS_SELECTOR, want)
                return found and found[0].is_displayed() and found[0].text.strip()

            WebDriverWait(browser, 300).until(ready)
            time.sleep(0.5)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(1280, min(max(height, 800), 2000))
            browser.save_screenshot(str(args.out / f"{name}.png"))
            browser.set_window_size(1280, 1000)
            print(f"written: {args.out / (name + '.png')}")
        browser.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
