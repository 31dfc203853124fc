"""Pluggable text generators for question answering over a retrieved context.

A generator is anything with ``name`` and ``generate(prompt, max_new_tokens) -> str``. Two real ones:

- :class:`OpenAICompatibleGenerator`: POST ``{base_url}/chat/completions`` (OpenAI, vLLM, llama.cpp server,
  Ollama's OpenAI endpoint, ...), with the standard library only. ``base_url`` / ``model`` / ``api_key`` come
  from the arguments or from ``BIOBRIDGE_LLM_BASE_URL`` / ``BIOBRIDGE_LLM_MODEL`` / ``BIOBRIDGE_LLM_API_KEY``
  (falling back to ``OPENAI_BASE_URL`` / ``OPENAI_MODEL`` / ``OPENAI_API_KEY``).
- :class:`HFLocalGenerator`: a Hugging Face causal LM from a **local** directory (``transformers`` imported
  lazily; nothing is downloaded), greedy decoding, the tokenizer's chat template when it has one.

:class:`CallableGenerator` wraps a plain function (tests, custom back ends).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from biobridge.encoders._torch_utils import refuse_remote_code

SYSTEM_PROMPT = (
    "You are a careful biomedical assistant. Answer from the retrieved context; say when it is insufficient."
)


@runtime_checkable
class Generator(Protocol):
    name: str

    def generate(self, prompt: str, max_new_tokens: int = 256) -> str: ...


class CallableGenerator:
    def __init__(self, fn: Callable[[str, int], str], name: str = "callable"):
        self.fn = fn
        self.name = name

    def generate(self, prompt: str, max_new_tokens: int = 256) -> str:
        return str(self.fn(prompt, max_new_tokens))


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return None


class OpenAICompatibleGenerator:
    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        temperature: float = 0.0,
        system_prompt: str = SYSTEM_PROMPT,
    ):
        self.base_url = (base_url or _env("BIOBRIDGE_LLM_BASE_URL", "OPENAI_BASE_URL") or "").rstrip("/")
        self.model = model or _env("BIOBRIDGE_LLM_MODEL", "OPENAI_MODEL")
        self.api_key = api_key or _env("BIOBRIDGE_LLM_API_KEY", "OPENAI_API_KEY")
        if not self.base_url:
            raise ValueError("no base URL: pass base_url or set BIOBRIDGE_LLM_BASE_URL / OPENAI_BASE_URL")
        if not self.model:
            raise ValueError("no model name: pass model or set BIOBRIDGE_LLM_MODEL / OPENAI_MODEL")
        self.timeout = timeout
        self.temperature = temperature
        self.system_prompt = system_prompt
        self.name = f"openai-compatible:{self.model}"

    def request_body(self, prompt: str, max_new_tokens: int) -> dict:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": prompt},
            ],
            "max_tokens": max_new_tokens,
            "temperature": self.temperature,
        }

    def generate(self, prompt: str, max_new_tokens: int = 256) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(self.request_body(prompt, max_new_tokens)).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(f"{self.base_url}: HTTP {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise RuntimeError(f"{self.base_url}: {exc.reason}") from exc
        try:
            return data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise RuntimeError(f"unexpected response from {self.base_url}: {str(data)[:300]}") from exc


class HFLocalGenerator:
    def __init__(self, model_dir: str | Path, device: str = "cpu", system_prompt: str = SYSTEM_PROMPT):
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(
                f"{self.model_dir} is not a Hugging Face model directory (no config.json)"
            )
        self.device = device
        self.system_prompt = system_prompt
        self.name = f"hf-local:{self.model_dir.name}"
        self._model = self._tokenizer = None

    def _load(self):
        if self._model is None:
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:  # pragma: no cover - transformers ships with the default text encoder
                raise ImportError("HFLocalGenerator needs `transformers` (pip install transformers)") from exc
            refuse_remote_code(self.model_dir)
            self._tokenizer = AutoTokenizer.from_pretrained(
                self.model_dir, local_files_only=True, trust_remote_code=False
            )
            self._model = AutoModelForCausalLM.from_pretrained(
                self.model_dir, local_files_only=True, trust_remote_code=False
            )
            self._model.to(self.device).eval()
        return self._model, self._tokenizer

    def generate(self, prompt: str, max_new_tokens: int = 256) -> str:
        import torch

        model, tok = self._load()
        if getattr(tok, "chat_template", None):
            messages = [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": prompt},
            ]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = f"{self.system_prompt}\n\n{prompt}\n"
        inputs = tok(text, return_tensors="pt").to(self.device)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
        return tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def build_generator(
    kind: str,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    device: str = "cpu",
) -> Generator:
    """``kind``: ``openai`` (model name, base_url, api_key) or ``hf`` (``model`` = local directory)."""
    if kind == "openai":
        return OpenAICompatibleGenerator(base_url=base_url, model=model, api_key=api_key)
    if kind == "hf":
        if not model:
            raise ValueError("--generator hf needs --llm-model pointing to a local model directory")
        return HFLocalGenerator(model, device=device)
    raise ValueError(f"unknown generator {kind!r}; choose 'openai' or 'hf'")
