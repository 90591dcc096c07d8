"""Screenshots of the playground for the README, taken in Debian's headless Chromium.

Starts `unembed serve` with the default inverter, fills a lossy store with the RAG QA documents,
then round-trips a sentence and asks a question in the page.

    python benchmarks/playground_screenshots.py   # writes benchmarks/results/playground_*.png
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
from serve_load import DOCS, start_server

HERE = Path(__file__).resolve().parent


def main() -> None:
    from playwright.sync_api import expect, sync_playwright
    chromium = shutil.which("chromium")
    if not chromium:
        raise SystemExit("needs Debian chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(Path(tmp), None)
        try:
            api = httpx.Client(base_url=base, timeout=600, headers={"Authorization": "Bearer bench-key"})
            docs = [{"id": f.name, "text": f.read_text()} for f in sorted(DOCS.iterdir())]
            api.post("/v1/rag/ingest", json={"store": "playground", "documents": docs}).raise_for_status()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 800})
                expect.set_options(timeout=600_000)
                page.goto(base + "/")
                page.fill("#key", "bench-key")
                page.dispatch_event("#key", "change")
                page.click("#rt-go")
                expect(page.locator("#rt-trace")).to_be_visible()
                page.screenshot(path=str(HERE / "results" / "playground_roundtrip.png"), full_page=True)
                page.click("nav button[data-tab=ask]")
                page.fill("#rag-q", "When did Vesuvius last erupt?")
                page.click("#rag-go")
                expect(page.locator("#rag-contexts")).to_be_visible()
                page.screenshot(path=str(HERE / "results" / "playground_rag.png"), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("wrote", HERE / "results" / "playground_roundtrip.png", "and playground_rag.png")


if __name__ == "__main__":
    main()
