"""Entry point for `pulumi up` in bootstrap/: the repository root must be importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bootstrap.program import main

main()
