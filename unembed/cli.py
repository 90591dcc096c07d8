"""The `unembed` command: parses arguments, calls the library, prints. Nothing else."""
from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import UnembedError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Turn text embeddings back into text.")
data_app = typer.Typer(no_args_is_help=True, help="Build the offline English corpus.")
app.add_typer(data_app, name="data")
out = Console()
if not out.is_terminal:  # rich assumes 80 columns in a pipe, which squeezes the tables
    out = Console(width=140)
err = Console(stderr=True)


# options shared by every command that inverts
EmbedderOpt = Annotated[str, typer.Option(help="Embedder name (minilm, mpnet), folder, or MODEL@URL.")]
InverterOpt = Annotated[Optional[str], typer.Option(help="Inverter spec (default: the best shipped one).")]
StepsOpt = Annotated[Optional[int], typer.Option(help="Correction steps (default: the inverter's).")]
BeamOpt = Annotated[Optional[int], typer.Option(help="Beam width (default: the inverter's).")]
JsonOpt = Annotated[Optional[Path], typer.Option("--json", help="Write JSON here ('-' for stdout).")]


def friendly(fn):
    """UnembedError -> one line on stderr and exit 2; no traceback for problems the user can fix."""
    @wraps(fn)
    def wrapper(*a, **k):
        try:
            return fn(*a, **k)
        except UnembedError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            raise typer.Exit(2)
    return wrapper


def _write_json(obj, path: Optional[Path]) -> None:
    if path is None:
        return
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _load(embedder: str, inverter: Optional[str]):
    from .embed import load_embedder
    from .invert.registry import load_inverter

    emb = load_embedder(embedder)
    return emb, load_inverter(inverter, emb)


def _settings(inv, steps, beam):
    from .invert.registry import resolve_settings

    return resolve_settings(inv, steps, beam)


@data_app.command("build")
@friendly
def data_build(
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Where the splits go (default ~/.cache/unembed/data)."),
    sources: str = typer.Option("brown,nlp_corpus,wordnet,gcide,bbc", help="Comma-separated sources."),
    ood: str = typer.Option("bbc", help="Sources held out whole as the out-of-domain split."),
    max_tokens: int = typer.Option(32, help="Longest sentence kept, in embedder tokens."),
    limit_per_source: Optional[int] = typer.Option(None, help="Keep at most N sentences per source (quick runs)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the manifest here too."),
):
    """Fetch the offline sources and write deterministic train/val/test/ood splits."""
    from .data.corpus import CorpusConfig, build

    cfg = CorpusConfig(sources=tuple(s for s in sources.split(",") if s), ood=tuple(s for s in ood.split(",") if s),
                       max_tokens=max_tokens, limit_per_source=limit_per_source)
    manifest = build(out_dir, cfg)
    table = Table("source", "raw", "kept", "train", "val", "test", "ood", "too long", "duplicate", "rejected")
    for src, c in manifest["per_source"].items():
        table.add_row(src, *(str(c.get(k, 0)) for k in ("raw", "kept", "train", "val", "test", "ood", "too_long", "duplicate", "rejected")))
    out.print(table)
    out.print("splits: " + ", ".join(f"{k} {v}" for k, v in manifest["splits"].items()))
    _write_json(manifest, json_out)


@app.command("eval")
@friendly
def eval_cmd(
    input: Path = typer.Option(..., "--input", help="UTF-8 text file, one text per line."),
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    limit: Optional[int] = typer.Option(None, help="Use only the first N lines."),
    json_out: JsonOpt = None,
):
    """Embed each line, invert it, and score the reconstructions (BLEU, token F1, exact match, cosine)."""
    from .evaluate import evaluate, read_lines

    texts = read_lines(input)[:limit] if limit else read_lines(input)
    emb, inv = _load(embedder, inverter)
    steps, beam = _settings(inv, steps, beam)
    report = evaluate(texts, emb, inv, steps, beam)
    if str(json_out) != "-":
        table = Table(title=f"{report['inverter']} on {report['embedder']} · {report['n']} texts · steps {steps} · beam {beam}")
        for k in ("bleu", "token_f1", "exact_match", "cosine", "seconds_per_text"):
            table.add_column(k, justify="right")
        table.add_row(f"{report['bleu']:.2f}", f"{report['token_f1']:.3f}", f"{report['exact_match']:.3f}",
                      f"{report['cosine']:.3f}", f"{report['seconds_per_text']:.3f}")
        out.print(table)
        for s in report["samples"][:3]:
            out.print(f"  [dim]{s['cosine']:.3f}[/]  {s['text']}\n     →  {s['reconstruction']}", highlight=False)
    _write_json(report, json_out)


@app.command()
@friendly
def roundtrip(
    text: List[str] = typer.Argument(..., help="Text(s) to embed and read back."),
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Embed → invert → print the reconstruction and its cosine to the original embedding."""
    from . import metrics

    emb, inv = _load(embedder, inverter)
    steps, beam = _settings(inv, steps, beam)
    vecs = emb.embed(text)
    recon = inv.invert(vecs, steps=steps, beam=beam)
    cos = metrics.cosines(vecs, emb.embed(recon))
    rows = [{"text": t, "reconstruction": r, "cosine": float(c)} for t, r, c in zip(text, recon, cos)]
    if str(json_out) != "-":
        for r in rows:
            out.print(f"original       {r['text']}\nreconstruction {r['reconstruction']}\ncosine         {r['cosine']:.3f}\n", highlight=False)
    _write_json(rows, json_out)


@app.command("invert")
@friendly
def invert_cmd(
    vectors: Path = typer.Option(..., "--vectors", help=".npy file holding an N×d float array."),
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Invert an N×d .npy array: one reconstruction per line (or JSON)."""
    import numpy as np

    from .errors import InputError

    try:
        arr = np.load(vectors, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"vectors file not found: {vectors}") from None
    except ValueError as e:
        raise InputError(f"{vectors} is not a readable .npy array: {e}") from None
    emb, inv = _load(embedder, inverter)
    steps, beam = _settings(inv, steps, beam)
    texts = inv.invert(arr, steps=steps, beam=beam)
    if json_out is None:
        for t in texts:
            print(t)
    _write_json([{"index": i, "text": t} for i, t in enumerate(texts)], json_out)


@app.command("embed")
@friendly
def embed_cmd(
    input: Path = typer.Option(..., "--input", help="UTF-8 text file, one text per line."),
    out_path: Path = typer.Option(..., "--out", help="Where to write the N×d float32 .npy array."),
    embedder: str = typer.Option("minilm"),
):
    """Embed a file of texts into an .npy array (the input `unembed invert` takes)."""
    import numpy as np

    from .embed import load_embedder
    from .evaluate import read_lines

    vecs = load_embedder(embedder).embed(read_lines(input))
    np.save(out_path, vecs)
    out.print(f"wrote {vecs.shape[0]}×{vecs.shape[1]} float32 to {out_path}")


if __name__ == "__main__":
    app()
