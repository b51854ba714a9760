"""Draft replies a scripted LLM sends, for the tiny Gemma 3 test model.

The right references are written from what SGLang computes:

- `VisionAttention` (sglang/srt/layers/attention/vision.py, built by SigLIP's encoder
  layer) splits its qkv projection into heads and runs full, unmasked attention over the
  patches of each image, scaled by head_dim ** -0.5 (`softmax_scale` is None, so the
  backend's default), before its output projection. The kernel drafted here is that
  attention core; the projections are GEMMs.
- `Gemma3RMSNorm.forward_native` (sglang/srt/layers/layernorm.py) normalises in
  float32 and scales by (1 + weight), then casts back to the input dtype.

The wrong vision draft forgets to move the head axis back: its output is
[batch, heads, patches, head_dim] instead of [batch, patches, heads, head_dim].
"""

from __future__ import annotations

import json
import re

# The tiny test config (tests/fixtures/tiny-gemma3.json): SigLIP hidden 128 with 4 heads
# (head_dim 32), 56 px images of 14 px patches (16 patches).
VISION_HEADS, VISION_HEAD_DIM, VISION_PATCHES = 4, 32, 16
VISION_NAME = f"vision_attention_h{VISION_HEADS}_d{VISION_HEAD_DIM}_p{VISION_PATCHES}"

_VISION_REFERENCE = '''import math
import torch


def run(q, k, v):
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = torch.einsum("bqhd,bkhd->bhqk", q.float(), k.float()) * scale
    scores = scores - scores.amax(dim=-1, keepdim=True)
    weights = torch.exp(scores)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    out = torch.einsum("bhqk,bkhd->bhqd", weights, v.float())
    return {permute}.to(q.dtype)
'''


def vision_attention(*, right: bool = True, reference: str | None = None) -> dict:
    permute = "out.permute(0, 2, 1, 3).contiguous()" if right else "out"
    tensor = {"shape": ["batch_size", "num_patches", "num_heads", "head_dim"], "dtype": "bfloat16"}
    return {
        "name": VISION_NAME,
        "op_type": "vision_attention",
        "description": "Full (unmasked) multi-head attention over the patches of each image in SigLIP's vision encoder.",
        "axes": {
            "batch_size": {"type": "var", "description": "Images in the batch."},
            "num_patches": {"type": "const", "value": VISION_PATCHES},
            "num_heads": {"type": "const", "value": VISION_HEADS},
            "head_dim": {"type": "const", "value": VISION_HEAD_DIM},
        },
        "constraints": [],
        "inputs": {"q": dict(tensor), "k": dict(tensor), "v": dict(tensor)},
        "outputs": {"output": dict(tensor)},
        "reference": reference if reference is not None else _VISION_REFERENCE.format(permute=permute),
    }


_GEMMA_NORM_REFERENCE = '''import torch


def run(hidden_states, weight):
    x = hidden_states.float()
    inv_rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + 1e-6)
    return (x * inv_rms * (1.0 + weight.float())).to(hidden_states.dtype)
'''


def gemma_rmsnorm(hidden: int) -> dict:
    return {
        "name": f"gemma_rmsnorm_h{hidden}",
        "op_type": "rmsnorm",
        "description": "Gemma RMSNorm: normalise in float32, scale by (1 + weight).",
        "axes": {"batch_size": {"type": "var"}, "hidden_size": {"type": "const", "value": hidden}},
        "inputs": {"hidden_states": {"shape": ["batch_size", "hidden_size"], "dtype": "bfloat16"}, "weight": {"shape": ["hidden_size"], "dtype": "bfloat16"}},
        "outputs": {"output": {"shape": ["batch_size", "hidden_size"], "dtype": "bfloat16"}},
        "reference": _GEMMA_NORM_REFERENCE,
    }


def as_reply(definition: dict, *, fenced: bool = True) -> str:
    """How a model typically answers: a sentence and a fenced JSON object."""
    body = json.dumps(definition, indent=2)
    return f"Here is the definition.\n\n```json\n{body}\n```\n" if fenced else body


def drafted_class(body: dict) -> str:
    """The SGLang class the first user message of a request asks about."""
    first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return re.search(r"- class: `([\w.]+)`", first_user).group(1)


_AVG_POOL_REFERENCE = '''import torch


def run(x):
    batch, channels, height, width = x.shape
    k = KERNEL
    pooled = x.float().reshape(batch, channels, height // k, k, width // k, k).mean(dim=(3, 5))
    return pooled.to(x.dtype)
'''


def avg_pool(*, channels: int, size: int, kernel: int) -> dict:
    """Gemma 3's projector pools the vision patch grid with a kernel x kernel average."""
    out = size // kernel
    return {
        "name": f"avg_pool2d_c{channels}_s{size}_k{kernel}",
        "op_type": "pooling",
        "description": "2-D average pooling with stride equal to the kernel size.",
        "axes": {
            "batch_size": {"type": "var"},
            "num_channels": {"type": "const", "value": channels},
            "size": {"type": "const", "value": size},
            "pooled_size": {"type": "const", "value": out},
        },
        "inputs": {"x": {"shape": ["batch_size", "num_channels", "size", "size"], "dtype": "bfloat16"}},
        "outputs": {"output": {"shape": ["batch_size", "num_channels", "pooled_size", "pooled_size"], "dtype": "bfloat16"}},
        "reference": _AVG_POOL_REFERENCE.replace("KERNEL", str(kernel)),
    }


def default_reply(body: dict) -> str:
    """A right draft for every pending kernel of the tiny model except the vision attention."""
    if drafted_class(body) == "nn.AvgPool2d":
        # The projector pools the 4 x 4 patch grid to 16 tokens per image: kernel 1.
        return as_reply(avg_pool(channels=128, size=4, kernel=1))
    return gemma_norm_reply(body)


def gemma_norm_reply(body: dict) -> str:
    first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return as_reply(gemma_rmsnorm(int(re.search(r"^- dim: (\d+)", first_user, re.M).group(1))))


def is_repair(body: dict) -> bool:
    return any(m["role"] == "assistant" for m in body["messages"])
