"""`agent graph`: the state machine with its loops visible as conditional edges."""

from agent.cli import main


def test_the_mermaid_graph_shows_the_draft_and_repair_loops(capsys):
    assert main(["graph"]) == 0
    out = capsys.readouterr().out
    for edge in ("dedup --> draft", "draft -.-> draft", "draft -.-> verify", "verify -.-> repair", "repair -.-> repair", "repair -.-> verify", "verify -.-> commit"):
        assert edge in out, edge
