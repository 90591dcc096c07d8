"""The HTTP service: JSON endpoints over the library, one tenant per API key.

Security model, in code order: a body-size cap before anything is parsed; a Bearer key mapped
to a tenant through its SHA-256 (keys are never stored); per-tenant rate limits on embed and
invert, since anyone who can query the embedder at will can train an inverter; batch caps;
store names resolved inside the tenant's own directory, so another tenant's store is
indistinguishable from a missing one (404 either way); every store and memory created here has
its vectors sealed at rest with the server's store key. Errors carry the library's message,
never request text or vectors; the access log records who touched which store, not what.
The playground at / is a static page: it holds no data and calls the same endpoints with the
key its user types in.
"""
import asyncio
import json
import logging
import re
import threading
import time
from collections import defaultdict, deque
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Optional

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InputError, MismatchError, StoreKeyError, UnembedError
from ..invert.registry import MAX_BEAM, MAX_STEPS
from .config import NAME, ServerConfig, Tenant

NAME_PATTERN = NAME.pattern  # store and memory names: also what the schema promises

class EmbedRequest(BaseModel):
    input: list[str] = Field(min_length=1, description="Texts to embed (at most the server's max_batch).")

class InvertRequest(BaseModel):
    vectors: list[list[float]] = Field(min_length=1, description="N×d vectors of the server's embedder.")
    steps: Optional[int] = Field(None, ge=0, le=MAX_STEPS)
    beam: Optional[int] = Field(None, ge=1, le=MAX_BEAM)

class BlendRequest(BaseModel):
    inputs: list[str] = Field(min_length=2, description="Texts to blend (at least two).")
    weights: Optional[list[float]] = Field(None, description="One per input; default equal.")
    method: str = Field("mean", pattern="^(mean|lerp|slerp)$")
    steps: Optional[int] = Field(None, ge=0, le=MAX_STEPS)
    beam: Optional[int] = Field(None, ge=1, le=MAX_BEAM)

class Document(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    text: str

class IngestRequest(BaseModel):
    store: str = Field(pattern=NAME_PATTERN)
    documents: list[Document] = Field(min_length=1)
    mode: str = Field("lossy", pattern="^(lossy|lossless)$", description="Used when the store is created.")

class AskRequest(BaseModel):
    store: str = Field(pattern=NAME_PATTERN)
    questions: list[str] = Field(min_length=1)
    k: int = Field(5, ge=1, le=20)
    steps: Optional[int] = Field(None, ge=0, le=MAX_STEPS)
    beam: Optional[int] = Field(None, ge=1, le=MAX_BEAM)
    hints: bool = Field(False, description="Offer each question's words to the search as it reads back its lossy chunks.")

class RoundtripRequest(BaseModel):
    input: str = Field(min_length=1, description="One text: embedded, then read back step by step.")
    steps: Optional[int] = Field(None, ge=0, le=MAX_STEPS)
    beam: Optional[int] = Field(None, ge=1, le=MAX_BEAM)

class MemoryAddRequest(BaseModel):
    memory: str = Field(pattern=NAME_PATTERN)
    input: list[str] = Field(min_length=1, description="Texts to remember (only their vectors are kept).")
    source: str = Field("", max_length=200, description="Provenance label stored with each item.")
    merge_above: Optional[float] = Field(None, gt=0, le=1)

class MemoryConsolidateRequest(BaseModel):
    memory: str = Field(pattern=NAME_PATTERN)
    threshold: float = Field(0.9, gt=0, le=1)
    dry_run: bool = False

class MemoryShowRequest(BaseModel):
    memory: str = Field(pattern=NAME_PATTERN)
    invert: bool = Field(False, description="Read each concept back as text (counts against the invert limit).")
    limit: int = Field(20, ge=1, le=200)
    steps: Optional[int] = Field(None, ge=0, le=MAX_STEPS)
    beam: Optional[int] = Field(None, ge=1, le=MAX_BEAM)

class AuditRequest(BaseModel):
    store: str = Field(pattern=NAME_PATTERN)
    sample: int = Field(8, ge=1, description="Vectors to invert (a seeded random sample; at most max_batch).")
    seed: int = 0
    steps: Optional[int] = Field(None, ge=0, le=MAX_STEPS)
    beam: Optional[int] = Field(None, ge=1, le=MAX_BEAM)
    format: str = Field("json", pattern="^(json|html)$", description="json, or html for the self-contained report.")



class RateLimiter:
    """Sliding one-minute window of items (texts or vectors) per tenant and kind."""

    def __init__(self):
        self._events: dict[tuple[str, str], deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, tenant: str, kind: str, items: int, per_minute: int) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._events[(tenant, kind)]
            while q and now - q[0][0] > 60:
                q.popleft()
            used = sum(n for _, n in q)
            if used + items > per_minute:
                return False
            q.append((now, items))
            return True


class InversionQueue:
    """One inversion at a time (the search inverter keeps per-call state, and two would only share the
    same cores). When the slot frees, the waiting tenant served longest ago goes next, so one tenant's
    burst cannot starve another. At most `depth` requests hold or await the slot, and at most
    `per_tenant` of them from one tenant; the rest are shed with a 503 at once rather than left
    waiting minutes."""

    def __init__(self, depth: int, per_tenant: int | None = None):
        self.depth, self.per_tenant = depth, per_tenant or depth
        self._cv = threading.Condition()
        self._waiting: list[tuple[int, str]] = []  # (ticket, tenant), in arrival order
        self._running = False
        self._per: dict[str, int] = defaultdict(int)
        self._last: dict[str, int] = {}  # tenant -> serial number of its latest turn
        self._tickets = self._turns = 0

    @property
    def held(self) -> int:
        return len(self._waiting) + self._running

    def _next(self) -> int:
        return min(self._waiting, key=lambda w: (self._last.get(w[1], 0), w[0]))[0]

    @contextmanager
    def slot(self, tenant: str = ""):
        with self._cv:
            if self.held >= self.depth:
                raise HTTPException(503, f"busy: {self.held} inversions running or queued; retry shortly",
                                    headers={"Retry-After": "10"})
            if self._per[tenant] >= self.per_tenant:
                raise HTTPException(503, f"busy: {self._per[tenant]} of this tenant's inversions are running or "
                                         "queued; retry shortly", headers={"Retry-After": "10"})
            ticket, self._tickets = self._tickets, self._tickets + 1
            self._waiting.append((ticket, tenant))
            self._per[tenant] += 1
            while self._running or self._next() != ticket:
                self._cv.wait()
            self._waiting.remove((ticket, tenant))
            self._running = True
            self._turns += 1
            self._last[tenant] = self._turns
        try:
            yield
        finally:
            with self._cv:
                self._running = False
                self._per[tenant] -= 1
                self._cv.notify_all()


log = logging.getLogger("unembed.serve")

# per request: the tenant once known, and whether an endpoint already wrote its access-log line
_request: ContextVar[dict | None] = ContextVar("unembed_request", default=None)


class AccessLog:
    """JSON lines: time, tenant, endpoint, store, items, status. Never texts, vectors or keys.
    Every request gets one line: the endpoint's own (with its store and item count), or, for a
    request refused or failed before it wrote one, a line with the status it was answered with."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def write(self, **fields) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields})
        rec = _request.get()
        if rec is not None:
            rec["logged"] = True
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


def _lone_surrogate(value, where: str = "body") -> str | None:
    """The JSON path of the first string (key or value) that is not valid Unicode, else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if (bad := _lone_surrogate(v, f"{where}/{i}")) is not None:
                return bad
    elif isinstance(value, dict):
        for k, v in value.items():
            if (bad := _lone_surrogate(k, where) or _lone_surrogate(v, f"{where}/{k}")) is not None:
                return bad
    return None


class BodyGuard:
    """ASGI middleware in front of everything: reads the whole body before any route does, counting
    the bytes that actually arrive (Content-Length or chunked alike) against the cap, with a
    deadline for the whole body, and refuses bodies that are not valid UTF-8 JSON text (lone
    surrogates included) with a 400, before they can reach a store or a model."""

    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        size = headers.get(b"content-length")
        if size is not None and (not size.isdigit() or int(size) > self.max_bytes):
            return await self._refuse(send, 413, f"request body over {self.max_bytes} bytes")
        body = bytearray()
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                msg = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                return await self._refuse(send, 408, f"request body not received within {self.timeout_s:g} s")
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            if len(body) > self.max_bytes:
                return await self._refuse(send, 413, f"request body over {self.max_bytes} bytes")
            if not msg.get("more_body"):
                break
        if body and b"json" in headers.get(b"content-type", b"application/json"):
            try:
                where = _lone_surrogate(json.loads(bytes(body).decode("utf-8")))
            except UnicodeDecodeError:
                return await self._refuse(send, 400, "request body is not valid UTF-8")
            except RecursionError:
                return await self._refuse(send, 400, "request body is nested too deeply")
            except ValueError:
                where = None  # not JSON: the route's own validation says so (422)
            if where is not None:
                return await self._refuse(send, 400, f"invalid Unicode (a lone surrogate) in {where}")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        data = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})


def create_app(config: ServerConfig):

    from fastapi_offline import FastAPIOffline  # /docs and /redoc from packaged assets: no CDN here
    app = FastAPIOffline(title="unembed", version="0.1.0",
                  description="Embed, invert, round-trip and blend; lossy RAG; concept memory; leakage audits. "
                              "The playground is at /. Every endpoint but /health needs "
                              "`Authorization: Bearer KEY`.")
    limiter, access = RateLimiter(), AccessLog(config.data_dir / "access.log")
    models: dict = {}
    model_lock = threading.RLock()  # inverter() loads the embedder under it too

    def embedder():
        with model_lock:
            if "embedder" not in models:
                from ..embed import load_embedder
                models["embedder"] = load_embedder(config.embedder)
            return models["embedder"]

    def inverter():
        with model_lock:
            if "inverter" not in models:
                from ..api import load_inverter
                models["inverter"] = load_inverter(config.inverter, embedder())
            return models["inverter"]

    inversions = InversionQueue(config.max_invert_queue, config.max_invert_queue_per_tenant)
    key = config.store_key

    app.add_middleware(BodyGuard, max_bytes=config.max_body_bytes, timeout_s=config.read_timeout_s)

    @app.middleware("http")  # added last, so outermost: it sees what the body guard refuses too
    async def log_every_request(request: Request, call_next):
        rec = {"tenant": None, "logged": False}
        _request.set(rec)
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            if not rec["logged"]:
                access.write(tenant=rec["tenant"], endpoint=request.url.path, status=status)

    # messages may name a store's or memory's directory: a client sees its name, never the server's paths
    server_paths = re.compile("(?:" + "|".join(re.escape(str(p)) for p in {config.data_dir, config.data_dir.resolve()})
                              + r""")[^\s:;,'"()]*""")

    def public(message: str) -> str:
        return server_paths.sub(lambda m: repr(Path(m.group(0)).name), message)

    # every error body is {"error": message}: the library's message, a validation summary, or ours
    @app.exception_handler(UnembedError)
    async def unembed_error(request: Request, exc: UnembedError):
        if isinstance(exc, StoreKeyError):  # the server's key, not the client's request, is wrong
            log.error("server misconfigured on %s: a sealed store or memory does not open with the server's "
                      "store key (%s)", request.url.path, public(str(exc)))
            return JSONResponse({"error": "server misconfigured: stored data cannot be unsealed with the server's "
                                          "key; the operator has been told"}, status_code=500)
        status = 409 if isinstance(exc, MismatchError) else 400
        return JSONResponse({"error": public(str(exc))}, status_code=status)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        # the type only: a message may quote a text, a vector or a path
        log.error("internal error on %s: %s", request.url.path, type(exc).__name__)
        return JSONResponse({"error": "internal error; the server log names it"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # name the field and the rule; never echo the offending value (it may be a text or a vector)
        problems = ["body: not valid JSON" if e["type"] == "json_invalid" else
                    ("/".join(str(p) for p in e["loc"][1:]) or "body") + ": " + e["msg"] for e in exc.errors()[:5]]
        return JSONResponse({"error": "invalid request: " + "; ".join(problems or ["malformed body"])},
                            status_code=422)

    def tenant(request: Request) -> Tenant:
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        found = config.tenant_for(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if found is not None and (rec := _request.get()) is not None:
            rec["tenant"] = found.name
        if found is None:
            access.write(tenant=None, endpoint=request.url.path, status=401)
            raise HTTPException(401, "missing or unknown API key: send Authorization: Bearer KEY",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    def batch(n: int, what: str) -> None:  # empty lists never get here: the schema asks for at least one
        if n > config.max_batch:
            raise HTTPException(413, f"{n} {what} in one request; the limit is {config.max_batch}")

    def limit(t: Tenant, kind: str, n: int, per_minute: int, endpoint: str) -> None:
        if not limiter.allow(t.name, kind, n, per_minute):
            access.write(tenant=t.name, endpoint=endpoint, items=n, status=429)
            raise HTTPException(429, f"rate limit: {per_minute} {kind} items per minute for this tenant",
                                headers={"Retry-After": "60"})

    def allowed(t: Tenant, name: str, kind: str, create: bool) -> None:
        if t.stores is not None and name not in t.stores:
            if create:
                raise HTTPException(403, f"this tenant's {kind}s are fixed by the server config; {name!r} is not one")
            raise HTTPException(404, f"no {kind} named {name!r}")

    def store_for(t: Tenant, name: str, create: bool = False, mode: str = "lossy"):
        from ..store import open_store, store_exists
        path = config.store_path(t, name)
        allowed(t, name, "store", create)
        if create:
            from ..invert.registry import default_inverter
            from ..rag.ingest import open_or_create
            emb = embedder()
            return open_or_create(path, emb, config.inverter or default_inverter(emb.name), mode, key=key)
        if not store_exists(path):
            raise HTTPException(404, f"no store named {name!r}")
        return open_store(path, key)

    def memory_for(t: Tenant, name: str, create: bool = False):
        from ..concepts import ConceptMemory
        from ..concepts.memory import INFO_FILE
        path = config.memory_path(t, name)
        allowed(t, name, "memory", create)
        if create:
            emb = embedder()
            return ConceptMemory.open_or_create(path, emb.name, emb.dim, key)
        if not (path / INFO_FILE).is_file():
            raise HTTPException(404, f"no memory named {name!r}")
        return ConceptMemory.open(path, key=key)

    def listing(t: Tenant, kind: str) -> list[str]:
        root = config.data_dir / "tenants" / t.name / kind
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def playground():
        return HTMLResponse((Path(__file__).parent / "playground.html").read_text(encoding="utf-8"))

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/v1/embed")
    def embed(req: EmbedRequest, t: Tenant = Depends(tenant)):
        batch(len(req.input), "texts")
        limit(t, "embed", len(req.input), t.embed_per_minute, "/v1/embed")
        emb = embedder()
        vecs = emb.embed(req.input)
        access.write(tenant=t.name, endpoint="/v1/embed", items=len(req.input), status=200)
        return {"model": emb.name, "dim": emb.dim,
                "data": [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]}

    @app.post("/v1/invert")
    def invert(req: InvertRequest, t: Tenant = Depends(tenant)):
        import numpy as np

        from ..embed.base import check_vectors
        from ..invert.registry import resolve_settings
        batch(len(req.vectors), "vectors")
        limit(t, "invert", len(req.vectors), t.invert_per_minute, "/v1/invert")
        emb = embedder()
        try:
            vecs = check_vectors(np.asarray(req.vectors, dtype=np.float32), emb.dim)
        except ValueError:
            raise InputError("vectors: every row must have the same length") from None
        inv = inverter()
        steps, beam = resolve_settings(inv, req.steps, req.beam)
        with inversions.slot(t.name):
            texts = inv.invert(vecs, steps=steps, beam=beam)
        cos = (emb.embed(texts) * vecs).sum(1)
        access.write(tenant=t.name, endpoint="/v1/invert", items=len(vecs), status=200)
        return {"data": [{"index": i, "text": x, "cosine": float(c)} for i, (x, c) in enumerate(zip(texts, cos))],
                "steps": steps, "beam": beam}

    @app.post("/v1/roundtrip")
    def roundtrip(req: RoundtripRequest, t: Tenant = Depends(tenant)):
        """Embed one text and invert it, returning the best text and its cosine after every step."""
        from .. import metrics
        from ..invert.registry import resolve_settings
        limit(t, "embed", 1, t.embed_per_minute, "/v1/roundtrip")
        limit(t, "invert", 1, t.invert_per_minute, "/v1/roundtrip")
        emb, inv = embedder(), inverter()
        steps, beam = resolve_settings(inv, req.steps, req.beam)
        vec = emb.embed([req.input])
        with inversions.slot(t.name):
            text = inv.invert(vec, steps=steps, beam=beam)[0]
            trace = list(getattr(text, "trace", None) or []) or [(None, text)]
        cos = float(emb.embed([text])[0] @ vec[0])
        access.write(tenant=t.name, endpoint="/v1/roundtrip", items=1, status=200)
        return {"text": text, "cosine": cos, "token_f1": metrics.token_f1_pair(text, req.input),
                "exact": text.strip() == req.input.strip(), "steps": steps, "beam": beam, "inverter": inv.name,
                "trace": [{"step": i, "text": x, "cosine": cos if c is None else float(c)}
                          for i, (c, x) in enumerate(trace)]}

    @app.post("/v1/blend")
    def blend(req: BlendRequest, t: Tenant = Depends(tenant)):
        from ..concepts import ConceptSpace
        from ..invert.registry import resolve_settings
        if any(x.startswith("id:") for x in req.inputs):
            raise InputError("the API blends texts; stored ids are not addressable here")
        batch(len(req.inputs), "inputs")
        limit(t, "invert", 1, t.invert_per_minute, "/v1/blend")
        inv = inverter()
        with inversions.slot(t.name):
            res = ConceptSpace(embedder(), inv, *resolve_settings(inv, req.steps, req.beam)).blend(
                req.inputs, req.weights, req.method)
        access.write(tenant=t.name, endpoint="/v1/blend", items=len(req.inputs), status=200)
        return res

    @app.post("/v1/rag/ingest")
    def rag_ingest(req: IngestRequest, t: Tenant = Depends(tenant)):
        from ..rag.ingest import ingest_texts
        batch(len(req.documents), "documents")
        limit(t, "embed", len(req.documents), t.embed_per_minute, "/v1/rag/ingest")
        st = store_for(t, req.store, create=True, mode=req.mode)
        summary = ingest_texts([(d.id, d.text) for d in req.documents], st, embedder())
        access.write(tenant=t.name, endpoint="/v1/rag/ingest", store=req.store, items=len(req.documents), status=200)
        return {**summary, "mode": st.info.mode}

    @app.post("/v1/rag/ask")
    def rag_ask(req: AskRequest, t: Tenant = Depends(tenant)):
        from ..rag.ask import RAG
        batch(len(req.questions), "questions")
        st = store_for(t, req.store)
        limit(t, "invert", len(req.questions) * req.k, t.invert_per_minute, "/v1/rag/ask")
        inv = inverter()  # the server's, when the store was built for it; else RAG loads the store's own
        rag = RAG(st, embedder(), inv if st.info.inverter == inv.name else None, None, req.steps, req.beam, hints=req.hints)
        with inversions.slot(t.name):
            results = rag.ask(req.questions, k=req.k, generate=False)
        access.write(tenant=t.name, endpoint="/v1/rag/ask", store=req.store, items=len(req.questions), status=200)
        return {"results": results}

    @app.get("/v1/rag/stores")
    def rag_stores(t: Tenant = Depends(tenant)):
        access.write(tenant=t.name, endpoint="/v1/rag/stores", status=200)
        return {"stores": listing(t, "stores")}

    @app.post("/v1/memory/add")
    def memory_add(req: MemoryAddRequest, t: Tenant = Depends(tenant)):
        batch(len(req.input), "texts")
        limit(t, "embed", len(req.input), t.embed_per_minute, "/v1/memory/add")
        mem = memory_for(t, req.memory, create=True)
        report = mem.add(embedder().embed(req.input), [req.source] * len(req.input), req.merge_above)
        access.write(tenant=t.name, endpoint="/v1/memory/add", store=req.memory, items=len(req.input), status=200)
        return {"items": report, "concepts": mem.count()}

    @app.post("/v1/memory/consolidate")
    def memory_consolidate(req: MemoryConsolidateRequest, t: Tenant = Depends(tenant)):
        mem = memory_for(t, req.memory)
        rep, _ = mem.consolidate(req.threshold, dry_run=req.dry_run)
        access.write(tenant=t.name, endpoint="/v1/memory/consolidate", store=req.memory, status=200)
        return {**rep.to_dict(), "threshold": req.threshold, "dry_run": req.dry_run}

    @app.post("/v1/memory/show")
    def memory_show(req: MemoryShowRequest, t: Tenant = Depends(tenant)):
        """The heaviest concepts first, with provenance; read back as text when `invert` is set."""
        import numpy as np

        from ..invert.registry import resolve_settings
        mem = memory_for(t, req.memory)
        concepts = sorted(mem.concepts(), key=lambda c: (-c.count, c.created, c.id))[:req.limit]
        texts = [None] * len(concepts)
        if req.invert and concepts:
            limit(t, "invert", len(concepts), t.invert_per_minute, "/v1/memory/show")
            inv = inverter()
            with inversions.slot(t.name):
                texts = inv.invert(np.stack([c.vector for c in concepts]), *resolve_settings(inv, req.steps, req.beam))
        access.write(tenant=t.name, endpoint="/v1/memory/show", store=req.memory, items=len(concepts), status=200)
        return {"concepts": [{"id": c.id, "count": c.count, "text": x, "created": c.created, "updated": c.updated,
                              "items": [vars(i) for i in c.items]} for c, x in zip(concepts, texts)],
                "total": mem.count()}

    @app.get("/v1/memory")
    def memories(t: Tenant = Depends(tenant)):
        access.write(tenant=t.name, endpoint="/v1/memory", status=200)
        return {"memories": listing(t, "memories")}

    @app.post("/v1/audit")
    def audit_store(req: AuditRequest, t: Tenant = Depends(tenant)):
        """Invert a sample of one of the tenant's stores and report what leaks (JSON or the HTML report)."""
        from ..audit.leak import audit, store_vectors
        from ..invert.registry import resolve_settings
        if req.sample > config.max_batch:
            raise HTTPException(413, f"sample of {req.sample}; the limit is {config.max_batch}")
        st = store_for(t, req.store)
        vecs, texts, parts = store_vectors(st)
        n = min(req.sample, len(vecs))
        limit(t, "invert", n, t.invert_per_minute, "/v1/audit")
        emb, inv = embedder(), inverter()
        with inversions.slot(t.name):
            rep = audit(vecs, emb, inv, *resolve_settings(inv, req.steps, req.beam), truth=texts, sample=n,
                        seed=req.seed, progress=False, parts=parts)
        access.write(tenant=t.name, endpoint="/v1/audit", store=req.store, items=n, status=200)
        if req.format == "html":
            from ..audit.report import to_html
            return HTMLResponse(to_html(rep))
        return rep

    return app


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn
    # uvicorn's own access log prints paths only; our AccessLog is the record of who read what
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
