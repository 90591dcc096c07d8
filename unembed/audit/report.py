"""A self-contained HTML report a non-expert can read: verdict first, then plots, then worst leaks."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from ..errors import MissingPackageError
from ..metrics import ENTITY_KINDS, LEAK_RULES
from .leak import KINDS

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
.verdict{padding:1em 1.2em;border-radius:8px;margin:1em 0;font-size:1.05em}
.HIGH{background:#fde2e1;border-left:6px solid #c62828}.MEDIUM{background:#fff3cd;border-left:6px solid #b7791f}
.LOW{background:#e6f4ea;border-left:6px solid #2e7d32}
.tiles{display:flex;gap:1em;flex-wrap:wrap}.tile{background:#f4f5f7;border-radius:8px;padding:.6em 1em;min-width:8em}
.tile b{display:block;font-size:1.5em}table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
mark{background:#ffcdd2;padding:0 .15em}img{max-width:100%}.muted{color:#666;font-size:.9em}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _plots(report: dict) -> list[tuple[str, str]]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingPackageError("the HTML report needs matplotlib: pip install matplotlib") from None
    out = []
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist([s["cosine"] for s in report["samples"]], bins=20, range=(0, 1), color="#5c6bc0")
    ax.set_xlabel("cosine between a stored vector and its reconstruction's embedding")
    ax.set_ylabel("vectors")
    out.append(("How closely the reconstructions match the vectors", _png(fig)))
    plt.close(fig)
    if "token_f1" in report:
        kinds = [k for k in KINDS if report.get(f"{k}_recovered") is not None]
        if kinds:
            fig, ax = plt.subplots(figsize=(6, 3))
            vals = [100 * report[f"{k}_recovered"] for k in kinds]
            ax.bar(kinds, vals, color="#c62828")
            for i, v in enumerate(vals):
                ax.text(i, v + 1, f"{v:.0f}%", ha="center")
            ax.set_ylim(0, 105)
            ax.set_ylabel("% given away")
            out.append(("Share of each kind of entity in the originals that the reconstructions give away", _png(fig)))
            plt.close(fig)
    return out


def _highlight(text: str, items: list[str]) -> str:
    out = html.escape(text)
    for e in sorted(set(items), key=len, reverse=True):
        out = out.replace(html.escape(e), f"<mark>{html.escape(e)}</mark>")
    return out


def render(report: dict, out: Path, extra_images: list[tuple[str, Path]] = ()) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_html(report, extra_images), encoding="utf-8")
    return out


def to_html(report: dict, extra_images: list[tuple[str, Path]] = ()) -> str:
    """The report as one self-contained HTML page (images inlined)."""
    e = html.escape
    tiles = [("vectors audited", f"{report['n']} of {report['of']}"), ("mean cosine", f"{report['cosine']:.2f}")]
    if "token_f1" in report:
        tiles += [("BLEU", f"{report['bleu']:.1f}"), ("token F1", f"{report['token_f1']:.2f}"),
                  ("exact", f"{report['exact_match']:.0%}")]
        # .get: a report saved before a kind was counted (name parts) still renders, with a dash
        tiles += [(f"{k.replace('_', ' ')} recovered",
                   "–" if report.get(f"{k}_recovered") is None else f"{report[f'{k}_recovered']:.0%}") for k in KINDS]
    else:
        tiles += [(f"{k} found", str(report[f"{k}_found"])) for k in ENTITY_KINDS]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>unembed leakage audit</title>"
             f"<style>{_CSS}</style></head><body><h1>Leakage audit</h1>",
             f"<div class='verdict {e(report['verdict'])}' id='verdict'><b>{e(report['verdict'])} leakage.</b> "
             f"{e(report['verdict_text'])}</div>",
             "<div class='tiles'>" + "".join(f"<div class='tile'><b>{e(v)}</b>{e(k)}</div>" for k, v in tiles) + "</div>",
             f"<p class='muted'>Attacker: inverter <code>{e(report['inverter'])}</code> ({report['steps']} steps, beam "
             f"{report['beam']}) on embedder <code>{e(report['embedder'])}</code>, {report['seconds_per_text']:.1f} s per "
             "vector. A stronger attacker (more search, a trained model, more compute) recovers more, never less.</p>"]
    if "token_f1" in report:
        rules = report.get("leak_rules", LEAK_RULES)
        parts.append("<p class='muted' id='leak-rules'>How each figure counts a leak:</p><ul class='muted'>" +
                     "".join(f"<li><b>{e(k.replace('_', ' '))}</b>: {e(v)}</li>" for k, v in rules.items()) + "</ul>")
    for title, b64 in _plots(report):
        parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' src='data:image/png;base64,{b64}'>")
    for title, path in extra_images:
        b64 = base64.b64encode(Path(path).read_bytes()).decode()
        parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' src='data:image/png;base64,{b64}'>")
    if "token_f1" in report:
        parts.append("<h2>Worst leaks first</h2><table><tr><th>#</th><th>original (leaked entities marked)</th>"
                     "<th>read back from the vector</th><th>token F1</th><th>cosine</th></tr>")
        for s in report["samples"]:
            leaked = [x for v in s["leaked"].values() for x in v]
            parts.append(f"<tr><td>{s['index']}</td><td>{_highlight(s['text'], leaked)}</td>"
                         f"<td>{_highlight(s['reconstruction'], leaked)}</td><td>{s['token_f1']:.2f}</td>"
                         f"<td>{s['cosine']:.2f}</td></tr>")
    else:
        parts.append("<h2>Reconstructions, most confident first</h2><table><tr><th>#</th><th>read back from the vector</th>"
                     "<th>entities in it</th><th>cosine</th></tr>")
        for s in report["samples"]:
            found = [x for v in s["entities_found"].values() for x in v]
            parts.append(f"<tr><td>{s['index']}</td><td>{_highlight(s['reconstruction'], found)}</td>"
                         f"<td>{e(', '.join(found))}</td><td>{s['cosine']:.2f}</td></tr>")
    parts.append("</table><p class='muted'>Made by <code>unembed audit</code>. This report contains the texts "
                 "it audited: keep it as safe as the data.</p></body></html>")
    return "\n".join(parts)
