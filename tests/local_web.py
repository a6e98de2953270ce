"""A stand-in for the internet on 127.0.0.1, so that the package's real download code runs in the tests.

`LocalWeb` serves files at the paths their real URLs have (the host is what differs: the package's
$GPT2LITE_DOWNLOAD_MIRROR, and huggingface_hub's $HF_ENDPOINT, point at it), and answers the few Hugging Face
Hub API requests that `snapshot_download` makes. It records every request, so a test can say what was downloaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gpt2lite import data

SHARED = Path(__file__).resolve().parents[2] / "shared"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # the one revision every hub repo served here has


def internet_files(shared: Path = SHARED) -> dict[str, bytes]:
    """The files the book downloads, keyed by the path of their real URL, read from ../shared."""
    files = {
        urllib.parse.urlsplit(data.TINY_SHAKESPEARE_URL).path: shared / "data" / data.TINY_SHAKESPEARE_FILENAME,
    }
    for name in data.GPT2_VOCAB_SHA256:
        files[urllib.parse.urlsplit(data.GPT2_VOCAB_URL + name).path] = shared / "gpt2_vocab" / name
    return {path: file.read_bytes() for path, file in files.items()}


class LocalWeb:
    """A threaded HTTP server on 127.0.0.1 serving `files` ({path: bytes}) and hub repos ({repo_id: {name: bytes}})."""

    def __init__(self, files: dict[str, bytes] | None = None, hub: dict[str, dict[str, bytes]] | None = None):
        self.files = dict(files or {})
        self.hub = dict(hub or {})
        self.requests: list[tuple[str, str]] = []  # (method, path) in the order they came
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                web._answer(self, body=True)

            def do_HEAD(self):
                web._answer(self, body=False)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalWeb:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, path: str, method: str = "GET") -> int:
        return sum(1 for m, p in self.requests if m == method and p == path)

    # ------------------------------------------------------------------------------------------------------
    def _answer(self, request: BaseHTTPRequestHandler, body: bool) -> None:
        path = urllib.parse.urlsplit(request.path).path
        self.requests.append((request.command, path))
        found = self._find(path)
        if found is None:
            request.send_response(404)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        content, headers = found
        request.send_response(200)
        for key, value in {"Content-Length": str(len(content)), **headers}.items():
            request.send_header(key, value)
        request.end_headers()
        if body:
            request.wfile.write(content)

    def _find(self, path: str) -> tuple[bytes, dict[str, str]] | None:
        if path in self.files:
            return self.files[path], {"Content-Type": "application/octet-stream"}
        for repo, files in self.hub.items():
            if path in (f"/api/models/{repo}", f"/api/models/{repo}/revision/main", f"/api/models/{repo}/revision/{COMMIT}"):
                info = {"id": repo, "modelId": repo, "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}
                return json.dumps(info).encode(), {"Content-Type": "application/json"}
            if path.startswith(f"/api/models/{repo}/tree/"):
                tree = [{"type": "file", "path": name, "size": len(content), "oid": _sha1(content)}
                        for name, content in files.items()]
                return json.dumps(tree).encode(), {"Content-Type": "application/json"}
            for revision in ("main", COMMIT):
                prefix = f"/{repo}/resolve/{revision}/"
                if path.startswith(prefix) and path[len(prefix):] in files:
                    content = files[path[len(prefix):]]
                    return content, {"X-Repo-Commit": COMMIT, "ETag": f'"{_sha1(content)}"'}
        return None


def _sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()
