"""Deterministic halves of LLM drafting: what the prompt says about a kernel (`brief`) and
how a reply becomes a Definition, or a list of what is wrong with it (`reply`)."""
