"""Draft replies a scripted LLM sends, for the tiny Gemma 3 test model.

The right references are written from what SGLang computes:

- `VisionAttention` (sglang/srt/layers/attention/vision.py, built by SigLIP's encoder
  layer) splits its qkv projection into heads and runs full, unmasked attention over the
  patches of each image, scaled by head_dim ** -0.5 (`softmax_scale` is None, so the
  backend's default), before its output projection. The kernel drafted here is that
  attention core; the projections are GEMMs.
- `Gemma3RMSNorm.forward_native` (sglang/srt/layers/layernorm.py) normalises in
  float32 and scales by (1 + weight), then casts back to the input dtype.
- SigLIP's `Conv2dLayer` patch embedding is a convolution with stride = kernel, and Gemma
  3's model-local `Gemma3RotaryEmbedding` modules compute HF-style cos/sin tables; the
  parser reports both (neither holds an SGLang layer it maps), so they are drafted too.

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


_PATCH_CONV_REFERENCE = '''import torch


def run(pixels, weight, bias):
    return torch.nn.functional.conv2d(pixels.float(), weight.float(), bias.float(), stride=weight.shape[-1]).to(pixels.dtype)
'''


def patch_conv(*, channels: int, out: int, kernel: int, size: int) -> dict:
    """SigLIP's patch embedding (Conv2dLayer): a convolution with stride = kernel."""
    patches = size // kernel
    return {
        "name": f"patch_conv2d_c{channels}_o{out}_k{kernel}_s{size}_p{patches}",
        "op_type": "conv2d",
        "description": "Patch embedding: 2-D convolution whose stride equals its kernel.",
        "axes": {
            "batch_size": {"type": "var"},
            "in_channels": {"type": "const", "value": channels},
            "out_channels": {"type": "const", "value": out},
            "kernel": {"type": "const", "value": kernel},
            "image_size": {"type": "const", "value": size},
            "patches": {"type": "const", "value": patches},
        },
        "inputs": {
            "pixels": {"shape": ["batch_size", "in_channels", "image_size", "image_size"], "dtype": "bfloat16"},
            "weight": {"shape": ["out_channels", "in_channels", "kernel", "kernel"], "dtype": "bfloat16"},
            "bias": {"shape": ["out_channels"], "dtype": "bfloat16"},
        },
        "outputs": {"output": {"shape": ["batch_size", "out_channels", "patches", "patches"], "dtype": "bfloat16"}},
        "reference": _PATCH_CONV_REFERENCE,
    }


_ROTARY_TABLE_REFERENCE = '''import torch


def run(positions):
    inv_freq = 1.0 / (BASE ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
    freqs = torch.outer(positions.float(), inv_freq)
    angles = torch.cat([freqs, freqs], dim=-1)
    return angles.cos(), angles.sin()
'''


def rotary_table(*, head_dim: int, base: int) -> dict:
    """Gemma 3's HF-style rotary embedding modules (a global and a local one, each with its
    own base): cos/sin of positions x inverse frequencies."""
    return {
        "name": f"rotary_cos_sin_table_d{head_dim}_b{base}",
        "op_type": "rotary_table",
        "description": "cos and sin of each position's rotary angles (HF-style rotary embedding table).",
        "axes": {"num_tokens": {"type": "var"}, "head_dim": {"type": "const", "value": head_dim}},
        "inputs": {"positions": {"shape": ["num_tokens"], "dtype": "float32"}},
        "outputs": {"cos": {"shape": ["num_tokens", "head_dim"], "dtype": "float32"}, "sin": {"shape": ["num_tokens", "head_dim"], "dtype": "float32"}},
        "reference": _ROTARY_TABLE_REFERENCE.replace("BASE", f"{base}.0").replace("HEAD_DIM", str(head_dim)),
    }


def default_reply(body: dict) -> str:
    """A right draft for every pending kernel of the tiny model except the vision attention."""
    if drafted_class(body) == "nn.AvgPool2d":
        # The projector pools the 4 x 4 patch grid to 16 tokens per image: kernel 1.
        return as_reply(avg_pool(channels=128, size=4, kernel=1))
    if drafted_class(body) == "Conv2dLayer":
        # 56 px RGB images in 14 px patches, 128 channels (the tiny SigLIP config).
        return as_reply(patch_conv(channels=3, out=128, kernel=14, size=56))
    if drafted_class(body) == "Gemma3RotaryEmbedding":
        # Gemma 3's defaults: local layers rotate with base 10000, global ones with 1000000.
        first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        return as_reply(rotary_table(head_dim=64, base=10000 if "rotary_emb_local" in first_user else 1000000))
    return gemma_norm_reply(body)


def gemma_norm_reply(body: dict) -> str:
    first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return as_reply(gemma_rmsnorm(int(re.search(r"^- dim: (\d+)", first_user, re.M).group(1))))


def is_repair(body: dict) -> bool:
    return any(m["role"] == "assistant" for m in body["messages"])
