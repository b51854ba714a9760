"""Mamba2 selective state update (NemotronH): `flashinfer.mamba.selective_state_update`, which builds an
SM90 module on Hopper (flashinfer/mamba/selective_state_update.py, gen_selective_state_update_sm90_module)."""

from tools.verification.bindings import Binding

BINDINGS = [
    Binding(
        name="mamba_ssu",
        build_seconds=60,
        fi_api="flashinfer.mamba.selective_state_update",
        kernel="mamba_ssu",
        op_type="mamba_ssu",
        description="selective_state_update with per-head A, D, dt_bias and dt (broadcast over head_dim), softplus(dt + dt_bias)",
    ),
]
