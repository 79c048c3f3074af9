"""Replace the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in README.md, so the README's figures
are written by the benchmarks that measure them.

    python benchmarks/readme_block.py NAME < text
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def replace_block(name: str, text: str, readme: Path = README) -> None:
    content = readme.read_text()
    pattern = re.compile(rf"(<!-- {re.escape(name)}:begin -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(content):
        raise SystemExit(f"{readme}: no <!-- {name}:begin --> ... <!-- {name}:end --> block")
    readme.write_text(pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), content))


def publish(text: str, block: str | None) -> None:
    """Print a benchmark's figures, and write them into README.md's `block` when one is named."""
    print(text)
    if block:
        replace_block(block, text)


if __name__ == "__main__":
    replace_block(sys.argv[1], sys.stdin.read())
