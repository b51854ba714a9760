"""Configs fetched from a Hugging Face-compatible hub (a local HTTP server stands in for it)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.errors import UnknownModelError
from tools.model_registry.resolver import ModelResolver

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 512, "intermediate_size": 1536,
    "num_attention_heads": 8, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 1000,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": False, "hidden_act": "silu",
}


@pytest.fixture
def hub(monkeypatch):
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append((self.path, self.headers.get("Authorization")))
            if self.path == "/acme/tiny-llama/resolve/main/config.json":
                body = json.dumps(TINY_LLAMA).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HF_TOKEN", "secret-token")
    yield requests
    server.shutdown()


def test_a_repo_id_outside_the_catalog_is_fetched_once_and_cached(hub, sglang_source, catalog, tmp_path):
    resolver = ModelResolver(sglang_source, catalog, hub_cache=tmp_path)
    model = resolver.resolve("acme/tiny-llama")
    assert model.config == TINY_LLAMA
    assert model.model_class.file == "sglang/srt/models/llama.py"
    assert model.slug == "tiny-llama" and model.hf_repo_id == "acme/tiny-llama"
    assert model.config_source.startswith("hub:http://127.0.0.1")
    assert hub == [("/acme/tiny-llama/resolve/main/config.json", "Bearer secret-token")]
    again = ModelResolver(sglang_source, catalog, hub_cache=tmp_path).resolve("acme/tiny-llama")
    assert again.config_source.startswith("hub-cache:") and len(hub) == 1


def test_a_repo_the_hub_does_not_have(hub, sglang_source, catalog, tmp_path):
    with pytest.raises(UnknownModelError, match="HTTP 404"):
        ModelResolver(sglang_source, catalog, hub_cache=tmp_path).resolve("acme/nothing-here")


def test_no_network_says_to_pass_a_config(monkeypatch, sglang_source, catalog, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(UnknownModelError) as info:
        ModelResolver(sglang_source, catalog, hub_cache=tmp_path).resolve("acme/tiny-llama")
    assert "--config" in info.value.hint


def test_catalog_names_never_ask_the_hub(hub, sglang_source, catalog, tmp_path):
    model = ModelResolver(sglang_source, catalog, hub_cache=tmp_path).resolve("meta-llama/Llama-3.1-8B-Instruct")
    assert model.config_source == "shipped:llama-3.1-8b.json"
    assert hub == []
