import json
import shutil
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def suite_home(tmp_path_factory):
    """The whole suite runs in a home of its own: nothing is read from or written to the user's
    ~/.cache/unembed. The corpus is absent unless a test asks for the tiny one (isolated_home)."""
    home = tmp_path_factory.mktemp("suite-home")
    saved = {k: os.environ.get(k) for k in ("UNEMBED_HOME", "UNEMBED_DATA", "UNEMBED_MODELS")}
    os.environ["UNEMBED_HOME"] = str(home / "home")
    os.environ["UNEMBED_DATA"] = str(home / "no-corpus")
    os.environ.pop("UNEMBED_MODELS", None)
    yield home / "home"
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def gemma(suite_home):
    """The local Gemma converted once per suite into the suite's home (about a minute); per-test homes link it."""
    from unembed.generate.gemma import _folder
    return _folder()


def link_gemma(home, suite_home):
    """Give a per-test home the suite's converted Gemma and exported int8 drafts, where they exist
    (converting Gemma costs a minute, exporting a draft several seconds)."""
    src = suite_home / "models" / "gemma-3-270m"
    if src.exists():
        (home / "models").mkdir(parents=True, exist_ok=True)
        (home / "models" / src.name).symlink_to(src)
    drafts = suite_home / "drafts"
    if drafts.exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copytree(drafts, home / "drafts")


@pytest.fixture(scope="session")
def minilm(suite_home):
    from unembed.embed import load_embedder

    emb = load_embedder("minilm")
    emb.draft_kind  # exports the int8 draft into the suite home once; per-test homes get a copy
    return emb


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A real build from the locally installed BBC source, capped small."""
    from unembed.data.corpus import CorpusConfig, build

    root = tmp_path_factory.mktemp("corpus")
    manifest = build(root / "data", CorpusConfig(sources=("bbc",), ood=(), limit_per_source=600),
                     raw=root / "raw")
    return root / "data", manifest


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch, tiny_corpus, suite_home, minilm):
    monkeypatch.setenv("UNEMBED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UNEMBED_DATA", str(tiny_corpus[0]))
    link_gemma(tmp_path / "home", suite_home)
    return tmp_path


class JSONHandler(BaseHTTPRequestHandler):
    """Base for the real HTTP servers tests stand up on 127.0.0.1: JSON in, JSON out, no logging."""

    def read_json(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def send_json(self, obj, status: int = 200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(isolated_home, tmp_path, request):
    """A real uvicorn server on 127.0.0.1 with two tenants (keys acme-key, globex-key), a store key and
    the fast `lookup` inverter (or the one given by indirect parametrisation); yields its URL and config."""
    import uvicorn

    from unembed.serve import ServerConfig, hash_key
    from unembed.serve.app import create_app
    cfg_file = tmp_path / "server.toml"
    (tmp_path / "store.key").write_text("a server store key of 32 bytes!!\n")
    cfg_file.write_text(f'''data_dir = "{tmp_path / 'data'}"
store_key_file = "store.key"
max_batch = 8
max_body_bytes = 200000
read_timeout_s = 3
inverter = "{getattr(request, 'param', 'lookup')}"

[tenants.acme]
key_sha256 = ["{hash_key('acme-key')}"]
invert_per_minute = 12

[tenants.globex]
key_sha256 = "{hash_key('globex-key')}"

[tenants.initech]
key_sha256 = "{hash_key('initech-key')}"
stores = ["ledger"]
''')
    cfg = ServerConfig.load(cfg_file)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", cfg
    srv.should_exit = True
    thread.join(timeout=10)


def client(base, key=None):
    import httpx
    return httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"} if key else {})
