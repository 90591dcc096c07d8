"""`unembed train`: fit a word head (wordhead.py) or a bag decoder (decoder.py) to an embedder,
on CPU or CUDA, resumably.

One config and one loop per model. The training split is embedded once (cached by ReferenceIndex). Each
sentence's target is the set of its vocabulary words, spread evenly as a distribution, and the
loss is the cross-entropy of the head's softmax against it. Every `checkpoint_every` steps and
at each epoch's end the full state (weights, optimiser, step, RNG) is written atomically to
OUT/checkpoint.pt, so a killed run started again with the same config carries on where it
stopped, on whichever device it now has.
Each epoch ends by scoring the validation split (never the test split) into OUT/metrics.json and
exporting the fp16 model (config.json, vocab.txt, weights.pt) that `WordPredictor.load` reads.
The bag decoder trains the same way on top of a trained word head (its top-m words are the
decoder's candidates, read from noisy copies of the training vectors as they will be at inference).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..data.corpus import read_split
from ..errors import InputError
from .lookup import ReferenceIndex
from .probe import build_vocab, word_set
from .wordhead import WordHead, WordHeadConfig, WordPredictor


@dataclass
class RunConfig:
    """What every training run has, whatever it trains (what _Run reads)."""
    embedder: str = "minilm"
    weight_decay: float = 0.01
    noise: float = 0.3  # most input noise (each row draws its own share), per axis in units of 1/√dim
    train_limit: int | None = None  # first N training sentences only (quick runs, tests)
    device: str = "auto"  # auto: cuda when there is one
    threads: int | None = None  # CPU threads for torch (None: torch's default)
    seed: int = 0
    checkpoint_every: int = 200  # steps
    max_minutes: float | None = None  # stop (checkpointed) after this long; run again to resume


@dataclass
class TrainConfig(RunConfig):
    out: str = "runs/minilm-words"
    vocab_size: int = 24000  # covers ~95 % of held-out word tokens
    hidden: int = 1024
    bottleneck: int = 512
    dropout: float = 0.1
    epochs: int = 4
    batch_size: int = 512
    lr: float = 2e-3
    warmup: int = 200  # steps
    val_limit: int = 2000


def _targets(texts: list[str], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's vocabulary word ids as CSR (indptr, ids)."""
    ids, indptr = [], [0]
    for t in texts:
        row = sorted(index[w] for w in word_set(t) if w in index)
        ids.extend(row)
        indptr.append(len(ids))
    return np.asarray(indptr, np.int64), np.asarray(ids, np.int64)


def _multi_hot(rows: np.ndarray, indptr: np.ndarray, ids: np.ndarray, vocab: int, device) -> torch.Tensor:
    y = torch.zeros(len(rows), vocab, device=device)
    r = np.repeat(np.arange(len(rows)), indptr[rows + 1] - indptr[rows])
    c = np.concatenate([ids[indptr[i]:indptr[i + 1]] for i in rows]) if len(rows) else np.zeros(0, np.int64)
    y[torch.from_numpy(r).to(device), torch.from_numpy(c).to(device)] = 1.0
    return y


def bag_f1(predicted: list[set[str]], texts: list[str]) -> float:
    """Mean F1 of predicted lower-cased word sets against each text's word set (words outside the
    vocabulary count as missed, so this is the head's real recovery rate, not its in-vocab one)."""
    scores = []
    for pred, text in zip(predicted, texts):
        gold = word_set(text)
        hit = len(pred & gold)
        scores.append(0.0 if not hit else 2 * hit / (len(pred) + len(gold)))
    return float(np.mean(scores)) if scores else 0.0


def _fingerprint(config: dict) -> dict:
    """What must match for a checkpoint to be resumed: all but where and how fast it runs."""
    return {k: v for k, v in config.items() if k not in ("out", "device", "threads", "checkpoint_every", "max_minutes", "eval_every")}


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(".partial")
    torch.save(obj, tmp)
    tmp.replace(path)


class _Run:
    """What both loops share: the device, the run folder, the warmup-then-cosine schedule, the
    deadline, and the checkpoint (weights, optimiser, step, history, RNG) that makes a run resumable."""

    def __init__(self, cfg: TrainConfig | DecoderTrainConfig):
        self.cfg = cfg
        self.device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if cfg.device == "auto" else cfg.device))
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.out / "checkpoint.pt"
        self.deadline = None
        # CPU seconds of all runs of this folder (resumes add up), for learning curves against compute
        self.cpu_base, self.cpu0 = 0.0, time.process_time()

    def lr(self, step: int, total: int) -> float:
        c = self.cfg
        return c.lr * min(1.0, (step + 1) / c.warmup) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

    def resume(self, model, opt, total: int, log) -> tuple[int, list]:
        """(step, history) to start from: the checkpoint's when there is one, else (0, [])."""
        if not self.ckpt.exists():
            return 0, []
        state = torch.load(self.ckpt, map_location="cpu", weights_only=False)
        now = asdict(self.cfg)
        defaults = {f.name: f.default for f in fields(self.cfg)}
        now = {k: v for k, v in now.items() if k in state["config"] or v != defaults.get(k)}  # settings added since
        if _fingerprint(state["config"]) != _fingerprint(now):
            raise InputError(f"{self.ckpt} was written by another config; remove it or use another --out")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])  # same noise and dropout as an uninterrupted run (on CPU)
        self.cpu_base = state.get("cpu_s", 3600 * state["history"][-1].get("cpu_hours", 0) if state["history"] else 0.0)
        log(f"resuming at step {state['step']} of {total}")
        return state["step"], state["history"]

    def save(self, model, opt, step: int, history: list) -> None:
        _save_atomic({"config": asdict(self.cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                      "step": step, "history": history, "rng": torch.get_rng_state(), "cpu_s": self.cpu_s()}, self.ckpt)

    def cpu_s(self) -> float:
        return self.cpu_base + time.process_time() - self.cpu0

    def start_clock(self) -> None:
        if self.cfg.max_minutes is not None:
            self.deadline = time.time() + 60 * self.cfg.max_minutes

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline


def train(cfg: TrainConfig, log=print) -> dict:
    from ..embed import load_embedder

    run = _Run(cfg)
    device, out = run.device, run.out
    embedder = load_embedder(cfg.embedder)
    texts = read_split("train")[:cfg.train_limit]
    val_texts = read_split("val")[:cfg.val_limit]
    if not texts or not val_texts:
        raise InputError("the training or validation split is empty: run `unembed data build`")
    vocab = build_vocab(texts, limit=cfg.vocab_size)
    index = {w.lower(): i for i, w in enumerate(vocab)}
    indptr, ids = _targets(texts, index)
    x = ReferenceIndex(embedder, texts).vectors  # fp16 (n, dim), cached across runs
    x_val = ReferenceIndex(embedder, val_texts).vectors.astype(np.float32)

    torch.manual_seed(cfg.seed)
    model = WordHead(WordHeadConfig(embedder.dim, len(vocab), cfg.hidden, cfg.bottleneck, cfg.dropout)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = math.ceil(len(texts) / cfg.batch_size)
    total = per_epoch * cfg.epochs
    step, history = run.resume(model, opt, total, log)

    def checkpoint():
        run.save(model, opt, step, history)

    scale = cfg.noise / math.sqrt(embedder.dim)
    bar = tqdm(total=total, initial=step, desc="training word head", unit=" step")
    run.start_clock()

    def stop():
        checkpoint()
        bar.close()
        log(f"stopped at step {step} of {total} after {cfg.max_minutes} min; run again to resume")
        return {"step": step, "total": total, "stopped": True}

    while step < total:
        epoch, start = divmod(step, per_epoch)
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(texts))  # the same order on resume
        model.train()
        t0, seen, loss_sum = time.time(), 0, 0.0
        for b in range(start, per_epoch):
            rows = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb = torch.from_numpy(x[rows].astype(np.float32)).to(device)
            if scale:
                # noisy copies teach the head vectors a little off the clean ones (int8 stores, aligned maps)
                xb = F.normalize(xb + scale * torch.rand(len(xb), 1, device=device) * torch.randn_like(xb), dim=-1)
            yb = _multi_hot(rows, indptr, ids, len(vocab), device)
            # listwise: the bag as a distribution over the vocabulary. Per-word BCE learned only the
            # function words (recall@64 0.41 against 0.80 for this after the same 600 steps)
            loss = -(yb / yb.sum(1, keepdim=True).clamp(min=1) * F.log_softmax(model(xb), -1)).sum(1).mean()
            for g in opt.param_groups:
                g["lr"] = run.lr(step, total)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(rows)
            loss_sum += loss.item() * len(rows)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.2f}")
            if step % cfg.checkpoint_every == 0:
                checkpoint()
            if run.out_of_time() and b + 1 < per_epoch:  # an epoch's last step goes on to score and export
                return stop()
        predictor = WordPredictor(model.eval().cpu(), vocab, embedder.name)
        bags = predictor.bags(x_val)
        row = {"epoch": epoch + 1, "step": step, "train_loss": loss_sum / max(seen, 1),
               "val_bag_f1": bag_f1(bags, val_texts), "samples_per_s": seen / (time.time() - t0),
               "device": str(device)}
        history.append(row)
        model.to(device)
        log(json.dumps(row))
        checkpoint()
        predictor.save(out, {"train": asdict(cfg) | {"train_sentences": len(texts)}, "history": history})
        (out / "metrics.json").write_text(json.dumps(history, indent=2))
        if run.out_of_time() and step < total:
            return stop()
    bar.close()
    return history[-1] if history else {}


@dataclass
class SequenceRunConfig(RunConfig):
    """What both sentence writers (the bag decoder, the Gemma prefix) have: they write from a word head's likeliest words."""
    word_head: str = "models/minilm-words"
    max_len: int = 40  # tokens
    epochs: int = 1
    spans: int = 0  # extra texts per training sentence: random word spans of it (more pairs from the same corpus)


@dataclass
class DecoderTrainConfig(SequenceRunConfig):
    out: str = "runs/minilm-decoder"
    fixed: int = 2048
    candidates: int = 64
    width: int = 256
    heads: int = 4
    encoder_layers: int = 0  # one encoder layer over the candidates cost 40 % of the speed on CPU
    decoder_layers: int = 3
    dropout: float = 0.1
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 300
    val_limit: int = 300
    eval_every: int = 1000  # steps between validation scores (an epoch is long on a CPU); 0: at each epoch's end only
    init: str | None = None  # start from this trained decoder folder's weights (a warm restart: new schedule)


def word_spans(texts: list[str], per_text: int, min_words: int = 4) -> list[str]:
    """`per_text` random contiguous word spans of each text long enough to have a shorter one
    (min_words to all but one word), the same every run: a clause or phrase is a text a store may
    hold too, and its embedding is a new training pair although no new words are seen."""
    rng = np.random.default_rng(0)
    out = []
    for t in texts:
        w = t.split()
        if len(w) <= min_words:
            continue
        for _ in range(per_text):
            size = int(rng.integers(min_words, len(w)))
            start = int(rng.integers(0, len(w) - size + 1))
            out.append(" ".join(w[start:start + size]))
    return out


def _token_rows(texts: list[str], vocab, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's token ids (end marker included) as CSR (indptr, ids)."""
    rows = [vocab.encode(t, max_len) for t in texts]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    return indptr.astype(np.int64), np.asarray([i for r in rows for i in r], np.int64)


def _length_batches(n_tokens: np.ndarray, batch: int, seed: int) -> list[np.ndarray]:
    """A shuffled epoch cut into batches of similar length (sorted within windows of 64 batches),
    so padding costs little; the same seed gives the same batches, for resuming."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(n_tokens))
    out = []
    for i in range(0, len(order), 64 * batch):
        w = order[i:i + 64 * batch]
        w = w[np.argsort(n_tokens[w], kind="stable")]
        out += [w[j:j + batch] for j in range(0, len(w), batch)]
    return [out[i] for i in rng.permutation(len(out))]


def train_decoder(cfg: DecoderTrainConfig, log=print) -> dict:
    from ..embed import load_embedder
    from .decoder import BOS, PAD, BagDecoder, DecoderConfig, SentenceDecoder, Vocabulary
    from .prefix import bf16_cpu

    run = _Run(cfg)
    device, out = run.device, run.out
    embedder = load_embedder(cfg.embedder)
    head = WordPredictor.load(cfg.word_head)
    if head.embedder_name != embedder.name or head.dim != embedder.dim:
        raise InputError(f"{cfg.word_head} was trained for {head.embedder_name}, not {embedder.name}")
    vocab = Vocabulary(head.vocab)
    texts = read_split("train")[:cfg.train_limit]
    val_texts = read_split("val")[:cfg.val_limit]
    if not texts or not val_texts:
        raise InputError("the training or validation split is empty: run `unembed data build`")
    if cfg.spans:
        texts = texts + word_spans(texts, cfg.spans)
    indptr, ids = _token_rows(texts, vocab, cfg.max_len)
    x = ReferenceIndex(embedder, texts).vectors
    x_val = ReferenceIndex(embedder, val_texts).vectors.astype(np.float32)

    torch.manual_seed(cfg.seed)
    # a small vocabulary (a short training split) has fewer tokens than `fixed` common ones: all are fixed then
    mcfg = DecoderConfig(embedder.dim, len(vocab.tokens), min(cfg.fixed, len(vocab.tokens)), min(cfg.candidates, len(head.vocab)), cfg.width, cfg.heads,
                         cfg.encoder_layers, cfg.decoder_layers, max_len=cfg.max_len, dropout=cfg.dropout)
    model = BagDecoder(mcfg)
    if cfg.init:
        start = SentenceDecoder.load(cfg.init, words=head).model
        if start.config != mcfg:
            raise InputError(f"{cfg.init} has another architecture ({start.config}) than this run ({mcfg})")
        model.load_state_dict(start.state_dict())
    model = model.to(device)
    head_model = head.model.to(device).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_tokens = indptr[1:] - indptr[:-1]
    per_epoch = len(_length_batches(n_tokens, cfg.batch_size, cfg.seed))
    total = per_epoch * cfg.epochs
    step, history = run.resume(model, opt, total, log)
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" or bf16_cpu())

    def evaluate() -> dict:
        model.eval().cpu()
        head.model.cpu()
        hyps = [h[0][1] if h else "" for h in SentenceDecoder(model, head, embedder.name).generate(x_val, beam=1)]
        model.to(device)
        head.model.to(device)
        return _val_scores(hyps, val_texts, x_val, embedder)

    def export(history: list) -> None:
        SentenceDecoder(model, head, embedder.name).save(out, os.path.relpath(Path(cfg.word_head).resolve(), out.resolve()),
                                                        {"train": asdict(cfg) | {"train_sentences": len(texts)}, "history": history})

    def batch_loss(rows: np.ndarray, xb: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            top = torch.log_softmax(head_model(xb), -1).topk(mcfg.candidates, dim=-1)
        cand = top.indices + vocab.offset
        lengths = n_tokens[rows]
        tokens = np.full((len(rows), lengths.max()), PAD, np.int64)
        for j, r in enumerate(rows):
            tokens[j, :lengths[j]] = ids[indptr[r]:indptr[r + 1]]
        tokens = torch.from_numpy(tokens).to(device)
        inputs = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], 1)
        with torch.autocast(**autocast):  # bfloat16 matmuls where the hardware has them (AMX here, a GPU)
            logits = model(model.encode(xb, cand, top.values), cand, inputs)
        return F.cross_entropy(logits.float().flatten(0, 1), BagDecoder.targets(cand, tokens, mcfg.fixed).flatten(),
                               ignore_index=-100)

    return _sequence_loop(run, model, opt, x, n_tokens, per_epoch, step, history, batch_loss, evaluate, export,
                          "training bag decoder", log)


def _val_scores(hyps: list[str], val_texts: list[str], x_val: np.ndarray, embedder) -> dict:
    from .. import metrics
    return {"val_bleu": metrics.bleu(hyps, val_texts), "val_token_f1": metrics.token_f1(hyps, val_texts),
            "val_cosine": float(np.mean(np.sum(embedder.embed(hyps) * x_val, 1))), "examples": hyps[:3]}


def _sequence_loop(run: _Run, model, opt, x: np.ndarray, n_tokens: np.ndarray, per_epoch: int, step: int,
                   history: list, batch_loss, evaluate, export, desc: str, log) -> dict:
    """The loop the bag decoder and the Gemma prefix share: length-bucketed batches of noisy training
    vectors (as for the word head: the head then makes its val-like mistakes), `batch_loss(rows, vectors)`, a clipped AdamW step on the warmup-then-cosine schedule, and
    every `eval_every` steps and at each epoch's end `evaluate()` (val scores) and `export(history)`."""
    cfg, device = run.cfg, run.device
    total = per_epoch * cfg.epochs
    scale = cfg.noise / math.sqrt(x.shape[1])
    bar = tqdm(total=total, initial=step, desc=desc, unit=" step")
    run.start_clock()
    while step < total:
        epoch, start = divmod(step, per_epoch)
        batches = _length_batches(n_tokens, cfg.batch_size, cfg.seed + epoch)
        model.train()
        t0, seen, loss_sum = time.time(), 0, 0.0
        for b in range(start, per_epoch):
            rows = batches[b]
            xb = torch.from_numpy(x[rows].astype(np.float32)).to(device)
            if scale:
                xb = F.normalize(xb + scale * torch.rand(len(xb), 1, device=device) * torch.randn_like(xb), dim=-1)
            loss = batch_loss(rows, xb)
            for g in opt.param_groups:
                g["lr"] = run.lr(step, total)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            seen += len(rows)
            loss_sum += loss.item() * len(rows)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.2f}")
            if (cfg.eval_every and step % cfg.eval_every == 0) or b + 1 == per_epoch:
                row = {"epoch": round(epoch + (b + 1) / per_epoch, 3), "step": step, "train_loss": loss_sum / max(seen, 1)}
                row |= evaluate() | {"samples_per_s": seen / (time.time() - t0), "device": str(device),
                                     "sentences": step * cfg.batch_size, "cpu_hours": round(run.cpu_s() / 3600, 4)}
                history.append(row)
                log(json.dumps(row))
                export(history)
                (run.out / "metrics.json").write_text(json.dumps(history, indent=2))
                model.train()
                run.save(model, opt, step, history)
            elif step % cfg.checkpoint_every == 0:
                run.save(model, opt, step, history)
            if run.out_of_time():
                run.save(model, opt, step, history)
                bar.close()
                log(f"stopped at step {step} of {total} after {cfg.max_minutes} min; run again to resume")
                return {"step": step, "total": total, "stopped": True}
    bar.close()
    return history[-1] if history else {}


@dataclass
class PrefixTrainConfig(SequenceRunConfig):
    out: str = "runs/minilm-prefix"
    slots: int = 4
    words: int = 16  # the word head's likeliest words follow the prefix (0: none)
    rank: int = 16
    hidden: int = 1024
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 100
    val_limit: int = 50  # Gemma writes slowly on a CPU (about 1.4 s a sentence, greedy)
    eval_every: int = 500  # steps; 0: at each epoch's end only
    draft: bool = False  # train a corrector: the prompt is a noisy draft of the sentence (prefix.noisy_draft)
    init: str | None = None  # start from this trained prefix folder's weights (a warm restart: new schedule)


def sub_vocabulary(tokenizer, texts: list[str]) -> tuple[torch.Tensor, list[list[int]]]:
    """(the sorted token ids the texts use, with <eos>; each text's ids): what Gemma may write."""
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    used = {tokenizer.eos_token_id}
    for row in ids:
        used.update(row)
    return torch.tensor(sorted(used), dtype=torch.long), ids


def train_prefix(cfg: PrefixTrainConfig, log=print) -> dict:
    """LoRA and a prefix MLP on a frozen Gemma-3-270M (prefix.py), trained like the bag decoder."""
    from ..embed import load_embedder
    from .prefix import PrefixConfig, PrefixDecoder, bf16_cpu, noisy_draft

    if cfg.draft and not cfg.words:
        raise InputError("a corrector (draft) draws its drafts' wrong words from the word head: keep --words above 0")
    run = _Run(cfg)
    device, out = run.device, run.out
    embedder = load_embedder(cfg.embedder)
    head = WordPredictor.load(cfg.word_head) if cfg.words else None
    if head is not None and (head.embedder_name != embedder.name or head.dim != embedder.dim):
        raise InputError(f"{cfg.word_head} was trained for {head.embedder_name}, not {embedder.name}")
    texts = read_split("train")[:cfg.train_limit]
    val_texts = read_split("val")[:cfg.val_limit]
    if not texts or not val_texts:
        raise InputError("the training or validation split is empty: run `unembed data build`")
    if cfg.spans:
        texts = texts + word_spans(texts, cfg.spans)
    x = ReferenceIndex(embedder, texts).vectors
    x_val = ReferenceIndex(embedder, val_texts).vectors.astype(np.float32)

    torch.manual_seed(cfg.seed)
    mcfg = PrefixConfig(embedder.dim, cfg.slots, cfg.words, cfg.rank, cfg.hidden, cfg.max_len, cfg.draft)
    dec = PrefixDecoder.create(mcfg, torch.zeros(1, dtype=torch.long), head, embedder.name)
    sub, token_ids = sub_vocabulary(dec.tokenizer, texts)
    dec.model.sub_vocab = sub
    if cfg.init:
        start = PrefixDecoder.load(cfg.init, words=head)
        if replace(start.model.config, draft=cfg.draft) != mcfg:
            raise InputError(f"{cfg.init} has another architecture ({start.model.config}) than this run ({mcfg})")
        dec.model.load_state_dict(start.model.state_dict())
        del start
    token_ids = [row[:cfg.max_len - 1] + [dec.tokenizer.eos_token_id] for row in token_ids]
    model = dec.model.to(device)
    if head is not None:
        head.model.to(device).eval()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_tokens = np.array([len(r) for r in token_ids])
    per_epoch = len(_length_batches(n_tokens, cfg.batch_size, cfg.seed))
    total = per_epoch * cfg.epochs
    step, history = run.resume(model, opt, total, log)
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" or bf16_cpu())

    def drafts(vectors: torch.Tensor, sentences: list[str], rng: np.random.Generator) -> list[str] | None:
        if not cfg.draft:
            return None
        return [noisy_draft(t, guesses, rng) for t, guesses in zip(sentences, dec.head_words(vectors, 32))]

    def evaluate() -> dict:
        dec.eval()  # float32 on the CPU: Gemma writes one token at a time there
        if head is not None:
            head.model.cpu()
        val_drafts = drafts(torch.from_numpy(x_val), val_texts, np.random.default_rng(0))  # the same every time
        hyps = [h[0][1] if h else "" for h in dec.generate(x_val, beam=1, drafts=val_drafts)]
        model.to(device)
        if head is not None:
            head.model.to(device)
        return _val_scores(hyps, val_texts, x_val, embedder)

    def export(history: list) -> None:
        rel = os.path.relpath(Path(cfg.word_head).resolve(), out.resolve()) if head is not None else None
        dec.save(out, rel, {"train": asdict(cfg) | {"train_sentences": len(texts)}, "history": history})

    def batch_loss(rows: np.ndarray, xb: torch.Tensor) -> torch.Tensor:
        rng = np.random.default_rng([cfg.seed, int(rows[0]), len(rows)])  # a batch's drafts are the same after a resume
        words = dec.word_ids(xb, drafts(xb, [texts[r] for r in rows], rng))
        with torch.autocast(**autocast):
            return model(xb, words, [token_ids[r] for r in rows])

    return _sequence_loop(run, model, opt, x, n_tokens, per_epoch, step, history, batch_loss, evaluate, export,
                          "training Gemma prefix", log)


@dataclass
class InverterTrainConfig:
    """One command, one loadable inverter folder: the word head, then the bag decoder (each resumable
    in OUT/train/), then the reference, probe, trigram and casing stages from the training split."""
    embedder: str = "minilm"
    out: str = "runs/minilm-inverter"
    train_limit: int | None = None
    epochs: int = 4  # the word head's
    decoder_epochs: int = 1
    word_head: str | None = None  # a trained word head folder to use instead of training one
    decoder: str | None = None  # a trained decoder folder (over that word head) to use instead of training one
    reference: int = 50_000  # reference sentences: the first N of the training split
    rare: bool = False  # also probe the dictionaries' rare headwords (stored at int4)
    device: str = "auto"
    seed: int = 0
    max_minutes: float | None = None
    eval_every: int | None = 0  # the decoder's validation scoring: at each epoch's end only


def train_inverter(cfg: InverterTrainConfig, log=print) -> dict:
    from ..data.corpus import read_lexicon
    from ..embed import load_embedder
    from .decoder import SentenceDecoder
    from .inverter import build_inverter
    from .probe import rare_vocab, split_vocab

    out = Path(cfg.out)
    work = out / "train"
    common = dict(embedder=cfg.embedder, train_limit=cfg.train_limit, device=cfg.device, seed=cfg.seed,
                  max_minutes=cfg.max_minutes)
    started = time.time()
    head_dir = Path(cfg.word_head) if cfg.word_head else work / "words"
    if not cfg.word_head:
        log("phase 1/3: the word head")
        last = train(TrainConfig(out=str(head_dir), epochs=cfg.epochs, **common), log=log)
        if last.get("stopped"):
            return last | {"phase": "words"}
    decoder_dir = Path(cfg.decoder) if cfg.decoder else work / "decoder"
    if not cfg.decoder:
        log("phase 2/3: the bag decoder")
        extra = {} if cfg.eval_every is None else {"eval_every": cfg.eval_every}
        last = train_decoder(DecoderTrainConfig(out=str(decoder_dir), word_head=str(head_dir), epochs=cfg.decoder_epochs,
                                                **common, **extra), log=log)
        if last.get("stopped"):
            return last | {"phase": "decoder"}
    log("phase 3/3: reference, probe, trigram and casing stages")
    embedder = load_embedder(cfg.embedder)
    words = WordPredictor.load(head_dir)
    decoder = SentenceDecoder.load(decoder_dir, words=words)
    if (words.embedder_name, words.dim) != (embedder.name, embedder.dim):
        raise InputError(f"{head_dir} was trained for {words.embedder_name}, not {embedder.name}")
    texts = read_split("train")[:cfg.train_limit]
    rare = None
    if cfg.rare:
        common_words, seen_once = split_vocab(texts)
        rare = rare_vocab(common_words, read_lexicon(), seen_once)
    card = {"embedder": embedder.name, "dim": embedder.dim, "train_sentences": len(texts),
            "word_head": json.loads((head_dir / "config.json").read_text()).get("train", {}),
            "decoder": json.loads((decoder_dir / "config.json").read_text()).get("train", {})}
    inv = build_inverter(embedder, texts, words=words, decoder=decoder, reference=cfg.reference, rare=rare, card=card)
    inv.save(out)
    return {"out": str(out), "stages": list(inv.config.stages), "minutes": (time.time() - started) / 60}
