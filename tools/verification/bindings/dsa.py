"""DeepSeek V3.2's sparse attention (DSA) on Hopper: FlashInfer's DSA kernels run on SM100+ only.

Sparse attention is MLA over each token's selected KV slots: the paged MLA kernel at page
size 1 computes it. The top-k indexer's selection and page-table translation run on
`top_k_page_table_transform`; its FP8 logits have no SM90 kernel and run in torch.
"""

from tools.verification.bindings import Binding
from tools.verification.bindings.signatures import const_axis


def _topk(definition) -> dict:
    k = const_axis(definition, "topk")
    if k is None:
        raise ValueError("the definition has no constant topk axis")
    return {"TOPK": k}


BINDINGS = [
    Binding(
        name="dsa_sparse_attention_mla_ps1",
        build_seconds=27,
        fi_api="flashinfer.mla.BatchMLAPagedAttentionWrapper.run",
        kernel="dsa_sparse_mla",
        op_type="dsa_paged",
        serves=("trtllm_batch_decode_with_kv_cache_mla",),
        checked="the attention: the MLA paged kernel at page size 1, one request per token over its valid slots; the slot lists: torch",
        description=(
            "BatchMLAPagedAttentionWrapper at page size 1, one request per token over its valid sparse slots "
            "(stands in for the sparse trtllm_batch_decode_with_kv_cache_mla, SM100/SM120)"
        ),
    ),
    Binding(
        name="dsa_topk_indexer",
        build_seconds=250,
        fi_api="flashinfer.top_k_page_table_transform",
        kernel="dsa_topk_indexer",
        op_type="dsa_paged",
        constants=_topk,
        checked=(
            "top-k selection and page-table translation: top_k_page_table_transform; the FP8 dequantisation and the "
            "logits (sum over heads of w * relu(q . k)): torch, not checked against FlashInfer (its indexer kernels are SM100+)"
        ),
        description="indexer logits in torch, top_k_page_table_transform for the selection, slots sorted best first",
    ),
]
