"""The repository is self-contained: its Markdown cites only files inside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _markdown_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listed.stdout.split()]


def test_markdown_links_resolve_inside_the_repository() -> None:
    broken = []
    for doc in _markdown_files():
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL, not a file
            resolved = (doc.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_no_document_points_outside_the_repository() -> None:
    outside = [str(doc.relative_to(ROOT)) for doc in _markdown_files() if "../shared" in doc.read_text("utf-8")]
    assert not outside, outside


def test_every_contract_section_is_stated() -> None:
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    assert [int(n) for n in re.findall(r"^#+ §(\d+)", text, flags=re.M)] == list(range(11))
