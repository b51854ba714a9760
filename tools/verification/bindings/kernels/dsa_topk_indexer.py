"""FlashInfer baseline for `dsa_topk_indexer_fp8_*` definitions on Hopper (SM90): the indexer's logits in
torch, the top-k selection and page-table translation on `flashinfer.top_k_page_table_transform`.

FlashInfer's DSA indexer kernels (fp8 paged MQA logits, the fused indexer) run on SM100/SM103
only, so the logits are computed here as the definitions define them: the FP8 index keys
dequantised from the packed cache (per page: page_size * D fp8 values, then page_size
float32 scales), then per token sum over heads of weight[h] * relu(q[h] . k). The kernel
picks each row's `TOPK` best positions among its first seq_len and returns them as global
slots (page * page_size + offset), -1 padded; its order is unspecified, so the slots are
then sorted best first by their logits, as the definitions return them.
"""

import flashinfer
import torch

TOPK = None  # the definition's k, filled in per definition (the reference bakes it in)


def run(q_index_fp8, k_index_cache_fp8, weights, seq_lens, block_table):
    return topk_indexer(q_index_fp8, k_index_cache_fp8, weights, seq_lens, block_table, flashinfer.top_k_page_table_transform)


def dequantize_cache(k_index_cache_fp8):
    """[pages, page_size, 1, D + 4] packed bytes -> [pages, page_size, D] float32."""
    packed = k_index_cache_fp8.view(torch.uint8)
    pages, page_size, _, width = packed.shape
    dim = width - 4
    flat = packed.reshape(pages, page_size * width)
    values = flat[:, : page_size * dim].contiguous().view(torch.float8_e4m3fn).view(pages, page_size, dim).to(torch.float32)
    scales = flat[:, page_size * dim :].contiguous().view(torch.float32).view(pages, page_size, 1)
    return values * scales


def index_logits(q_index_fp8, k_index_cache_fp8, weights, seq_lens, block_table):
    """float32 [batch, max_num_pages * page_size]: each position's score, -inf past its row's length."""
    keys = dequantize_cache(k_index_cache_fp8)
    batch, max_pages = block_table.shape
    page_size, dim = keys.shape[1], keys.shape[2]
    row_keys = keys[block_table.to(torch.int64)].reshape(batch, max_pages * page_size, dim)
    scores = torch.einsum("bhd,btd->bht", q_index_fp8.to(torch.float32), row_keys)
    logits = (torch.relu(scores) * weights.to(torch.float32).unsqueeze(-1)).sum(dim=1)
    positions = torch.arange(max_pages * page_size, device=logits.device)
    return logits.masked_fill(positions.unsqueeze(0) >= seq_lens.to(torch.int64).unsqueeze(1), float("-inf"))


def best_first(slots, logits, block_table, page_size, num_pages):
    """Each row's valid slots re-ordered by descending logit (ties keep the kernel's order)."""
    ordered = slots.clone()
    for row in range(slots.shape[0]):
        valid = slots[row] >= 0
        chosen = slots[row][valid].to(torch.int64)
        page_position = torch.full((num_pages,), -1, dtype=torch.int64, device=slots.device)
        page_position[block_table[row].to(torch.int64)] = torch.arange(block_table.shape[1], device=slots.device)
        position = page_position[chosen // page_size] * page_size + chosen % page_size
        order = torch.argsort(logits[row, position], descending=True, stable=True)
        ordered[row, : chosen.numel()] = chosen[order].to(slots.dtype)
    return ordered


def topk_indexer(q_index_fp8, k_index_cache_fp8, weights, seq_lens, block_table, top_k_page_table):
    num_pages, page_size = k_index_cache_fp8.shape[0], k_index_cache_fp8.shape[1]
    logits = index_logits(q_index_fp8, k_index_cache_fp8, weights, seq_lens, block_table)
    table = block_table.to(torch.int32).contiguous()
    slots = top_k_page_table(logits.contiguous(), table, seq_lens.to(torch.int32), TOPK, page_size=page_size)
    return (best_first(slots.to(torch.int32), logits, table, page_size, num_pages),)
