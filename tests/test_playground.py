"""The web playground in a real headless Chromium (Debian's), driven by Playwright, against a real server."""
import shutil

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="needs Debian chromium (apt-get install chromium)")

DOCS = """The lighthouse on the northern reef was built in 1871 by Scottish engineers.
Honey bees find flowers by following the waggle dance of returning foragers.
Sourdough bread rises because wild yeast and lactic bacteria ferment the flour."""


def colours(png: bytes) -> set[tuple[int, int, int]]:
    import io

    from PIL import Image
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return {tuple(int(c) for c in p) for p in np.unique(pixels, axis=0)}


@pytest.mark.slow
@pytest.mark.parametrize("server", ["search"], indirect=True)
def test_playground_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    base, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(120_000)
        expect.set_options(timeout=120_000)  # the first inversion loads the models
        page.goto(base + "/")
        expect(page).to_have_title("unembed playground")

        # a wrong key is refused, and the page says so
        page.fill("#key", "wrong-key")
        page.dispatch_event("#key", "change")
        page.click("#rt-go")
        expect(page.locator("#rt-out [role=alert]")).to_contain_text("401")

        # round-trip: the correction steps converge, drawn as a chart and listed as a table
        page.fill("#key", "acme-key")
        page.dispatch_event("#key", "change")
        page.fill("#rt-steps", "4")
        page.fill("#rt-beam", "2")
        page.click("#rt-go")
        expect(page.locator("#rt-result")).not_to_be_empty()
        rows = page.locator("#rt-trace tr")
        assert rows.count() >= 3  # header, the seeds, at least one correction step
        cos = [float(x) for x in page.locator("#rt-trace td:nth-child(3)").all_inner_texts()]
        assert cos == sorted(cos) and cos[-1] > cos[0]  # the beam only ever keeps better texts
        chart = page.locator("#rt-chart").screenshot(path=str(tmp_path / "roundtrip.png"))
        blue = [c for c in colours(chart) if abs(c[0] - 31) < 30 and abs(c[1] - 111) < 30 and abs(c[2] - 235) < 30]
        assert len(blue) >= 1  # the convergence line was painted

        # blend: moving the slider re-blends and the text follows
        page.click("nav button[data-tab=blend]")
        page.click("#bl-go")
        expect(page.locator("#bl-weight")).to_have_text("0.50")
        middle = page.inner_text("#bl-result")
        page.eval_on_selector("#bl-w", "e => { e.value = 0.9; e.dispatchEvent(new Event('input')); }")
        expect(page.locator("#bl-weight")).to_have_text("0.90")
        assert page.inner_text("#bl-result") and page.inner_text("#bl-out").count("to B") == 1
        print("blend 0.5:", middle, "| 0.9:", page.inner_text("#bl-result"))

        # lossy RAG: add documents, ask, see contexts read back from vectors next to their scores
        page.click("nav button[data-tab=ask]")
        page.fill("#rag-docs", DOCS)
        page.click("#rag-ingest")
        expect(page.locator("#rag-added")).to_contain_text("3 chunks added")
        page.fill("#rag-q", "Who built the lighthouse on the reef?")
        page.fill("#rag-k", "2")
        page.click("#rag-go")
        expect(page.locator("#rag-contexts tr")).to_have_count(3)
        scores = [float(x) for x in page.locator("#rag-contexts td:nth-child(1)").all_inner_texts()]
        assert scores == sorted(scores, reverse=True) and scores[0] > 0.4
        assert "stored text" not in page.inner_text("#rag-contexts")  # a lossy store holds none

        # audit: the report renders inside the page
        page.click("nav button[data-tab=audit]")
        page.fill("#au-n", "3")
        page.click("#au-go")
        frame = page.frame_locator("#au-report")
        expect(frame.locator("#verdict")).to_contain_text("leakage")
        shot = page.locator("#au-report").screenshot(path=str(tmp_path / "audit.png"))
        assert len(colours(shot)) > 50  # tiles, plots and text, not a blank frame
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)

        # the OpenAPI docs render offline (no CDN) and list the endpoints
        page.goto(base + "/docs")
        expect(page.get_by_role("heading", level=1)).to_contain_text("unembed")
        for path in ("/v1/roundtrip", "/v1/rag/ask", "/v1/memory/add", "/v1/audit"):
            expect(page.get_by_role("link", name=path, exact=True)).to_be_visible()
        browser.close()
