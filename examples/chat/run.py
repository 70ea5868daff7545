"""Run the chat demo from anywhere: ``python examples/chat/run.py [options]``."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Import the package `chat` from the directory above, not this file's directory.
if sys.path and os.path.abspath(sys.path[0] or ".") == HERE:
    sys.path.pop(0)
sys.path.insert(0, os.path.dirname(HERE))

from chat.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
