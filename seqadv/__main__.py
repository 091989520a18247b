"""``python -m seqadv ...``: the same command line as the ``seqadv`` console script."""

from __future__ import annotations

import sys

from seqadv.cli import main

if __name__ == "__main__":
    sys.exit(main())
