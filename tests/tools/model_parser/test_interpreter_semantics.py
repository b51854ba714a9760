"""The interpreter's semantics on small SGLang-shaped source trees written to disk."""

import textwrap
from pathlib import Path


from tools.model_parser.inventory import parse_model
from tools.model_parser.runtime import ParallelProfile
from tools.model_parser.source_index import SourceIndex
from tools.source_locator import SglangSource

LAYERS = '''
class RMSNorm:
    def __init__(self, hidden_size, eps=1e-6):
        pass

class RadixAttention:
    def __init__(self, num_heads, head_dim, scaling, num_kv_heads, layer_id=0, v_head_dim=-1):
        pass

class ReplicatedLinear:
    def __init__(self, input_size, output_size, bias=True, quant_config=None):
        pass
'''


def make_tree(tmp_path: Path, model_source: str, extra: dict[str, str] | None = None) -> SourceIndex:
    root = tmp_path / "src"
    files = {
        "sglang/__init__.py": "",
        "sglang/srt/__init__.py": "",
        "sglang/srt/layers/__init__.py": "",
        "sglang/srt/layers/basic.py": LAYERS,
        "sglang/srt/models/__init__.py": "",
        "sglang/srt/models/toy.py": model_source,
        **(extra or {}),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return SourceIndex(SglangSource(root=root, version="test", origin="path"))


def components(index, config, tp=1, cls="Toy"):
    inventory = parse_model(index, "sglang.srt.models.toy", cls, config, ParallelProfile(tp=tp))
    return inventory, {c.path: c for c in inventory.components}


def test_values_keep_the_config_expression_they_came_from(tmp_path):
    index = make_tree(tmp_path, '''
        from torch import nn
        from sglang.srt.layers.basic import RadixAttention
        def get_tensor_model_parallel_world_size():
            raise RuntimeError("not initialised")
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                tp = get_tensor_model_parallel_world_size()
                self.heads = config.num_attention_heads // tp
                self.attn = RadixAttention(self.heads, config.hidden_size // config.num_attention_heads, 1.0, num_kv_heads=max(1, config.num_key_value_heads // tp))
    ''')
    _, found = components(index, {"num_attention_heads": 32, "num_key_value_heads": 2, "hidden_size": 4096}, tp=4)
    attn = found["attn"]
    assert attn.value("num_heads") == 8
    assert attn.params["num_heads"].expr == "config.num_attention_heads // tp_size"
    assert attn.value("num_kv_heads") == 1  # KV heads replicate once TP exceeds them
    assert attn.value("head_dim") == 128


def test_unknown_condition_builds_both_branches_and_records_the_condition(tmp_path):
    index = make_tree(tmp_path, '''
        import os
        from torch import nn
        from sglang.srt.layers.basic import RMSNorm
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                if os.environ.get("TOY_FLAG"):
                    self.norm = RMSNorm(config.hidden_size)
                else:
                    self.norm = RMSNorm(2 * config.hidden_size)
    ''')
    inventory, _ = components(index, {"hidden_size": 64})
    widths = sorted(c.value("hidden_size") for c in inventory.components)
    assert widths == [64, 128]
    conditions = {c.value("hidden_size"): c.conditions for c in inventory.components}
    assert conditions[64] == ['os.environ.get("TOY_FLAG")']
    assert conditions[128] == ['not (os.environ.get("TOY_FLAG"))']


def test_a_branch_that_raises_is_not_taken(tmp_path):
    index = make_tree(tmp_path, '''
        import os
        from torch import nn
        from sglang.srt.layers.basic import RMSNorm
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                if os.environ.get("TOY_FLAG"):
                    raise ValueError("unsupported")
                self.norm = RMSNorm(config.hidden_size)
    ''')
    inventory, found = components(index, {"hidden_size": 64})
    assert list(found) == ["norm"]
    assert found["norm"].conditions == []


def test_platform_probes_default_to_the_cuda_path(tmp_path):
    index = make_tree(tmp_path, '''
        from torch import nn
        from sglang.srt.layers.basic import RMSNorm
        from sglang.srt.utils import is_npu, is_cuda
        _is_npu = is_npu()
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                if _is_npu:
                    self.npu_norm = RMSNorm(1)
                if is_cuda():
                    self.cuda_norm = RMSNorm(2)
    ''', extra={"sglang/srt/utils.py": "import torch\ndef is_npu():\n    return torch.npu.is_available()\ndef is_cuda():\n    return torch.cuda.is_available()\n"})
    _, found = components(index, {})
    assert set(found) == {"cuda_norm"}


def test_super_init_with_a_class_argument_and_an_imported_base(tmp_path):
    index = make_tree(tmp_path, '''
        from sglang.srt.models.base import BaseModel
        from sglang.srt.layers.basic import RMSNorm
        class ToyLayer:
            def __init__(self, config, width):
                self.norm = RMSNorm(width)
        class Toy(BaseModel):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__(config, layer_type=ToyLayer)
    ''', extra={"sglang/srt/models/base.py": '''
        from torch import nn
        class BaseModel(nn.Module):
            def __init__(self, config, layer_type=None):
                super().__init__()
                self.layers = nn.ModuleList([layer_type(config, width=config.hidden_size) for _ in range(config.num_hidden_layers)])
    '''})
    inventory, found = components(index, {"hidden_size": 48, "num_hidden_layers": 3})
    assert inventory.num_layers == 3
    assert inventory.layer_classes == ["ToyLayer"] * 3
    norm = found["layers.*.norm"]
    assert norm.layers == [0, 1, 2]
    assert norm.owner_class == "ToyLayer"
    assert norm.location.file == "sglang/srt/models/toy.py"


def test_star_imports_and_module_level_constants_resolve(tmp_path):
    index = make_tree(tmp_path, '''
        from torch import nn
        from sglang.srt.layers.basic import RMSNorm
        from sglang.srt.consts import *
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                self.norm = RMSNorm(WIDTH * 2)
    ''', extra={"sglang/srt/consts.py": "from sglang.srt.more import *\n", "sglang/srt/more.py": "WIDTH = 21\n"})
    _, found = components(index, {})
    assert found["norm"].value("hidden_size") == 42


def test_modules_outside_the_catalog_are_reported_not_dropped(tmp_path):
    index = make_tree(tmp_path, '''
        from torch import nn
        from sglang.srt.layers.exotic import LightningMixer
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                self.mixer = LightningMixer(config.hidden_size)
    ''', extra={"sglang/srt/layers/exotic.py": "from torch import nn\nclass LightningMixer(nn.Module):\n    def __init__(self, width):\n        super().__init__()\n"})
    inventory, found = components(index, {"hidden_size": 8})
    assert found == {}
    [unknown] = inventory.unknown
    assert unknown.class_name == "LightningMixer"
    assert unknown.path == "mixer"
    lines = (index.source.root / "sglang/srt/models/toy.py").read_text().splitlines()
    assert unknown.location.file == "sglang/srt/models/toy.py"
    assert "LightningMixer(config.hidden_size)" in lines[unknown.location.start_line - 1]


def test_a_constructor_that_raises_for_the_profile_is_a_failure(tmp_path):
    index = make_tree(tmp_path, '''
        from torch import nn
        from sglang.srt.layers.basic import RMSNorm
        def get_tensor_model_parallel_world_size():
            return 1
        class Toy(nn.Module):
            def __init__(self, config, quant_config=None, prefix=""):
                super().__init__()
                assert config.num_attention_heads % get_tensor_model_parallel_world_size() == 0
                self.norm = RMSNorm(4)
    ''')
    inventory, _ = components(index, {"num_attention_heads": 6}, tp=4)
    assert inventory.failures and "assert config.num_attention_heads" in inventory.failures[0]
    inventory, _ = components(index, {"num_attention_heads": 8}, tp=4)
    assert inventory.failures == []


ANY_OVER_A_SET = '''
    from torch import nn
    from sglang.srt.layers.basic import RMSNorm, ReplicatedLinear
    ARCHS = frozenset({"B", "C"})
    class Toy(nn.Module):
        def __init__(self, config, quant_config=None, prefix=""):
            super().__init__()
            archs = {"A", *ARCHS}
            if any(a in archs for a in config.architectures):
                self.known = RMSNorm(config.hidden_size)
            if any(a in config.maybe for a in config.architectures):
                self.unknown = ReplicatedLinear(config.hidden_size, 8)
'''


def test_any_over_a_starred_set_is_decided_and_unknown_items_stay_unknown(tmp_path):
    index = make_tree(tmp_path, ANY_OVER_A_SET)
    _, found = components(index, {"architectures": ["Z"], "hidden_size": 64})
    # "Z" is in neither {"A", "B", "C"}: no norm. Membership in an unknown field is not True:
    # the linear is built only under a condition the parser could not decide.
    assert "known" not in found
    assert found["unknown"].conditions
    _, found = components(index, {"architectures": ["C"], "hidden_size": 64})
    assert "known" in found and not found["known"].conditions
