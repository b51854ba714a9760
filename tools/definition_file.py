"""Edit a definition file's tags without touching anything else in it.

Definitions in the dataset were written by many hands and tools: some with every value
on its own line, some with compact one-line tensors, raw UTF-8 in their references. A
file re-serialised by `json.dumps` would show all of that as changed. Adding a model's
tag to a shared definition must be a diff of added tag lines only, so the edit is made
in the text: the new tags go at the end of the top-level `tags` array, written in the
array's own layout (one per line at the items' indentation, or inline).
"""

from __future__ import annotations

import json

from tools.errors import DefinitionError


def append_tags(text: str, tags: list[str]) -> str:
    """`text` with `tags` added to its top-level `tags` array (created if absent); tags
    it already has are not repeated.

    In an array with one tag per line, each new tag is a line of its own, placed after
    the last tag of the same kind (`model:`, `tp:`...) or else before the final tag, so
    that no existing line changes (a line inserted before another item ends with a comma
    and leaves its neighbours alone). Other layouts get the tags at the end."""
    present = set(json.loads(text).get("tags", []))
    tags = [t for t in dict.fromkeys(tags) if t not in present]
    if not tags:
        return text
    edited = text
    for tag in tags:
        edited = _add_one(edited, tag)
    _check_only_tags_added(text, edited, added=tags)
    return edited


def _add_one(text: str, tag: str) -> str:
    literal = json.dumps(tag, ensure_ascii=False)
    span = _top_level_value_span(text, "tags")
    if span is None:
        return _add_tags_key(text, [literal])
    start, end = span  # text[start] == "[", text[end - 1] == "]"
    inner = text[start + 1 : end - 1]
    if not inner.strip():
        return text[:start] + f"[{literal}]" + text[end:]
    lines = inner.split("\n")
    items = [i for i, line in enumerate(lines) if line.strip()]
    one_per_line = "\n" in inner and all(_is_item_line(lines[i]) for i in items)
    if not one_per_line:
        last_item_end = start + 1 + len(inner.rstrip())
        return text[:last_item_end] + f", {literal}" + text[last_item_end:]
    values = [json.loads(lines[i].strip().rstrip(",")) for i in items]
    prefix = tag.split(":", 1)[0] + ":" if ":" in tag else tag
    same = [k for k, value in enumerate(values) if value.startswith(prefix)]
    before = same[-1] + 1 if same and same[-1] + 1 < len(items) else len(items) - 1
    line = lines[items[before]]
    indent = line[: len(line) - len(line.lstrip())]
    lines.insert(items[before], f"{indent}{literal},")
    return text[: start + 1] + "\n".join(lines) + text[end - 1 :]


def _is_item_line(line: str) -> bool:
    stripped = line.strip().rstrip(",")
    try:
        return isinstance(json.loads(stripped), str)
    except ValueError:
        return False


def replace_tag(text: str, prefix: str, tag: str) -> str:
    """`text` with the top-level tag starting with `prefix` replaced by `tag` in place
    (appended when there is none); other tags keep their order."""
    data = json.loads(text)
    old = [t for t in data.get("tags", []) if t.startswith(prefix)]
    if not old:
        return append_tags(text, [tag])
    if old == [tag]:
        return text
    span = _top_level_value_span(text, "tags")
    assert span is not None
    start, end = span
    array = text[start:end]
    first = json.dumps(old[0], ensure_ascii=False)
    array = array.replace(first, json.dumps(tag, ensure_ascii=False), 1)
    for extra in old[1:]:
        array = _drop_item(array, json.dumps(extra, ensure_ascii=False))
    edited = text[:start] + array + text[end:]
    expected = [tag if t == old[0] else t for t in data["tags"] if t not in old[1:]]
    if json.loads(edited).get("tags") != expected:
        raise DefinitionError(f"could not replace the {prefix!r} tag in place")
    return edited


def _drop_item(array: str, literal: str) -> str:
    at = array.index(literal)
    before = array[:at].rstrip()
    if before.endswith(","):
        return before[:-1] + array[at + len(literal) :]
    after = array[at + len(literal) :].lstrip()
    return array[:at] + (after[1:].lstrip() if after.startswith(",") else after)


def _add_tags_key(text: str, literals: list[str]) -> str:
    # A file with no tags at all: the key goes first, where the object opens.
    brace = text.index("{")
    newline = "\n" if text[brace + 1 : brace + 2] == "\n" else ""
    indent = "  " if newline else ""
    return text[: brace + 1] + f"{newline}{indent}\"tags\": [{', '.join(literals)}],{'' if newline else ' '}" + text[brace + 1 :]


def _check_only_tags_added(before: str, after: str, *, added: list[str]) -> None:
    old, new = json.loads(before), json.loads(after)
    old_tags, new_tags = list(old.get("tags", [])), list(new.get("tags", []))
    kept = [t for t in new_tags if t not in added or t in old_tags]
    if dict(new, tags=None) != dict(old, tags=None) or kept != old_tags or sorted(new_tags) != sorted(old_tags + added):
        raise DefinitionError("adding tags would change more than the tags")
    if "tags" in old and list(new) != list(old):
        raise DefinitionError("adding tags would reorder the file's keys")


def _top_level_value_span(text: str, key: str) -> tuple[int, int] | None:
    """(start, end) of the value of `key` in the top-level object of `text`."""
    depth = 0
    i, n = 0, len(text)
    expect_key = False
    while i < n:
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i)
            if depth == 1 and expect_key and json.loads(text[i:end]) == key:
                colon = text.index(":", end)
                start = colon + 1
                while text[start] in " \t\r\n":
                    start += 1
                return start, _value_end(text, start)
            i = end
            expect_key = False
            continue
        if ch in "{[":
            depth += 1
            expect_key = ch == "{" and depth == 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 1:
            expect_key = True
        i += 1
    return None


def _string_end(text: str, start: int) -> int:
    i = start + 1
    while text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _value_end(text: str, start: int) -> int:
    if text[start] == '"':
        return _string_end(text, start)
    if text[start] not in "[{":
        end = start
        while end < len(text) and text[end] not in ",}\n":
            end += 1
        return end
    depth, i = 0, start
    while True:
        ch = text[i]
        if ch == '"':
            i = _string_end(text, i)
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
