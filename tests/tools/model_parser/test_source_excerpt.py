"""Source excerpts from the real SGLang sources: construction site and class, followed through imports."""

from tools.model_parser.source_excerpt import source_excerpt


def test_a_short_class_is_quoted_whole_with_line_numbers(source_index):
    excerpt = source_excerpt(source_index, "sglang/srt/models/gemma3_causal.py:354-356", "Gemma3RMSNorm")
    assert excerpt.construction_at == "sglang/srt/models/gemma3_causal.py:354-356"
    assert "self.input_layernorm = Gemma3RMSNorm(" in excerpt.construction
    # Imported from the layer library: the class is found there, not in the model file.
    assert excerpt.class_at.startswith("sglang/srt/layers/layernorm.py:")
    assert "class Gemma3RMSNorm" in excerpt.class_source and "def forward_native" in excerpt.class_source
    assert "(1.0 + self.weight.float())" in excerpt.class_source
    assert excerpt.omitted == []
    first = excerpt.class_source.splitlines()[0]
    assert first.split()[0] == excerpt.class_at.split(":")[1].split("-")[0]  # numbered from its real line


def test_a_long_class_keeps_forward_first_within_the_budget(source_index):
    excerpt = source_excerpt(source_index, "sglang/srt/models/siglip.py:114-124", "VisionAttention", max_class_lines=120)
    assert excerpt.class_at.startswith("sglang/srt/layers/attention/vision.py:")
    assert "class VisionAttention" in excerpt.class_source
    assert "def forward(" in excerpt.class_source
    assert len(excerpt.class_source.splitlines()) <= 120 + 10  # the budget, plus the elision markers
    assert any(name.startswith("forward") or name == "__init__" for name in excerpt.omitted)
    assert "omitted members:" in excerpt.render()


def test_a_class_outside_sglang_is_said_to_be(source_index):
    excerpt = source_excerpt(source_index, "sglang/srt/models/siglip.py:111-111", "LayerNorm")
    assert excerpt.class_source is None
    assert "not defined in SGLang's sources" in excerpt.render()
