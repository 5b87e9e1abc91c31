"""The README's policy table is generated from the pack and kept current."""

from __future__ import annotations

from tools.policy_table import END, README, START, render, rows, updated


def test_readme_policy_table_is_current() -> None:
    text = README.read_text()
    assert START in text and END in text
    assert updated(text) == text, "run `make docs`"


def test_table_lists_every_policy_with_its_metadata() -> None:
    table = rows()
    assert len(table) >= 45
    for name, description, severity, level, standard in table:
        assert name.startswith("`estate-") and description and severity and standard, name
        assert level.split()[0] in ("mandatory", "advisory"), name
    assert render().count("\n| `estate-") == len(table)
