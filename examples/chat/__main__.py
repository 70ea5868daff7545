"""``python -m chat`` (from the ``examples/`` directory)."""

import sys

from .server import main

sys.exit(main())
