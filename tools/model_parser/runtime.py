"""What SGLang's runtime switches evaluate to while the parser walks a model.

SGLang decides much of a model's structure from process-wide state: parallel sizes,
server arguments, platform probes (`is_npu()`, `is_hip()`), environment flags. The
parser evaluates model code as it would run on a CUDA GPU with the FlashInfer backend,
default server arguments and the requested TP/EP sizes. Anything not described here
stays unknown, and the interpreter then explores both sides of a branch on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from tools.model_parser.values import Sym


class ParallelProfile(BaseModel):
    """Parallel sizes a model is served with."""

    tp: int = Field(1, ge=1)
    """Tensor-parallel size (attention heads are split by it)."""
    ep: int = Field(1, ge=1)
    """Expert-parallel size (experts are split by it)."""


@dataclass
class ProfileObject:
    """A runtime object with the attributes the parser knows; others are unknown."""

    name: str
    attrs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<runtime {self.name}>"


def runtime_objects(profile: ParallelProfile) -> dict[str, Any]:
    """Values returned by SGLang's accessor functions, keyed by function name."""
    tp, ep = profile.tp, profile.ep
    tp_sym = Sym(tp, "tp_size")
    ep_sym = Sym(ep, "ep_size")
    moe_tp = Sym(max(1, tp // ep), "tp_size // ep_size")
    pp_group = ProfileObject(
        "pp_group", {"is_first_rank": True, "is_last_rank": True, "world_size": 1, "rank_in_group": 0, "rank": 0}
    )
    parallel = ProfileObject(
        "parallel",
        {
            "tp_size": tp_sym,
            "tp_rank": 0,
            "attn_tp_size": tp_sym,
            "attn_tp_rank": 0,
            "attn_dp_size": 1,
            "attn_dp_rank": 0,
            "attn_cp_size": 1,
            "attn_dcp_size": 1,
            "moe_ep_size": ep_sym,
            "moe_ep_rank": 0,
            "moe_tp_size": moe_tp,
            "moe_tp_rank": 0,
            "moe_dp_size": 1,
            "pp_size": 1,
            "pp_rank": 0,
            "pp_group": pp_group,
            "enable_dp_lm_head": False,
            "enable_dp_attention": False,
        },
    )
    server_args = ProfileObject(
        "server_args",
        {
            "enable_dp_attention": False,
            "enable_dp_lm_head": False,
            "attention_backend": "flashinfer",
            "moe_a2a_backend": "none",
            "moe_runner_backend": "auto",
            "speculative_algorithm": None,
            "kv_cache_dtype": "auto",
            "disable_cuda_graph": False,
            "enable_eplb": False,
            "ep_num_redundant_experts": 0,
            # SGLang's default; the model class's own gate decides (see serving.py).
            "disable_shared_experts_fusion": False,
            "enforce_shared_experts_fusion": False,
            "prefill_attention_backend": None,
            "decode_attention_backend": None,
            "dtype": "auto",
            "_quantization_explicitly_unset": False,
            "tp_size": tp_sym,
            "ep_size": ep_sym,
            "dp_size": 1,
            "pp_size": 1,
            "device": "cuda",
            "quantization": None,
        },
    )
    return {
        "get_parallel": parallel,
        "get_global_server_args": server_args,
        "get_server_args": server_args,
        "get_exec": ProfileObject(
            "exec",
            {
                "deterministic": ProfileObject("deterministic", {"rl_on_policy_target": None}),
                "moe": ProfileObject(
                    "moe",
                    {
                        "ep_num_redundant_experts": 0,
                        "disable_shared_experts_fusion": False,
                        "enforce_shared_experts_fusion": False,
                        "enable_waterfill": False,
                    },
                ),
            },
        ),
        "get_model": ProfileObject("model", {"kv_cache_dtype": "auto"}),
        "get_platform": PLATFORM,
        # The override registry reads server arguments through these views.
        "resolving_view": server_args,
        "resolved_view": server_args,
        "get_spec": ProfileObject("spec", {"speculative_algorithm": None}),
        "get_device": ProfileObject("device", {"device": "cuda"}),
        "get_pp_group": pp_group,
        "get_tensor_model_parallel_world_size": tp_sym,
        "get_tensor_model_parallel_rank": 0,
        "get_attention_tp_size": tp_sym,
        "get_attention_tp_rank": 0,
        "get_attention_dp_size": 1,
        "get_moe_expert_parallel_world_size": ep_sym,
        "get_moe_expert_parallel_rank": 0,
        "get_moe_tensor_parallel_world_size": moe_tp,
        "get_moe_tensor_parallel_rank": 0,
        "get_pipeline_model_parallel_world_size": 1,
        "get_num_fused_shared_experts": 0,
        # Shared-expert fusion is a backend optimisation; the dataset's MoE definitions
        # cover routed experts, so the parser keeps shared experts as their own MLP.
        "can_fuse_shared_expert": False,
        "get_stream": None,
        "is_dp_attention_enabled": False,
        "is_dense_ffn_fully_dp": False,
    }


PLATFORM = ProfileObject(
    "platform",
    {
        "is_cuda": True,
        "is_hip": False,
        "is_npu": False,
        "is_xpu": False,
        "is_musa": False,
        "is_sm90": True,
        "is_sm100": False,
        "is_sm100_or_sm110": False,
        "is_sm110": False,
        "is_sm120": False,
        "is_blackwell": False,
        "device_sm": 90,
        "device_capability": (9, 0),
        "has_flashinfer": True,
        "has_amx": False,
    },
)
"""`get_platform()`: the Hopper GPU (SM90, H100/H200) the project verifies on."""

DEVICE_CAPABILITY = (9, 0)
"""What `torch.cuda.get_device_capability()` answers on that GPU."""

# Platform probes that hold on the CUDA machines SGLang's FlashInfer backend serves on;
# every other `is_*`/`use_*`/`has_*` probe whose value is unknown defaults to False.
TRUE_PREDICATES = frozenset(
    {
        "is_cuda",
        "_is_cuda",
        "is_cuda_alike",
        "is_flashinfer_available",
        "is_sm90_supported",
        "is_hopper",
        "is_fa3_default_architecture",
    }
)

_PREDICATE_NAME = re.compile(r"^_*(is|use|has|enable|should|can|supports?)_")


def predicate_default(name: str) -> bool | None:
    """The assumed value of an unknown platform/feature probe named `name`, if it is one."""
    if name in TRUE_PREDICATES:
        return True
    if _PREDICATE_NAME.match(name):
        return False
    return None


# Transformers config defaults for fields a config.json may omit.
CONFIG_DEFAULTS: dict[str, Any] = {
    "tie_word_embeddings": True,
    "attention_bias": False,
    "mlp_bias": False,
    "rope_scaling": None,
    "rope_parameters": None,
    "pad_token_id": None,
    "quantization_config": None,
    "sliding_window": None,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "partial_rotary_factor": 1.0,
    "torch_dtype": "bfloat16",
}
