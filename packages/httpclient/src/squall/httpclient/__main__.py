"""``python -m squall.httpclient URL...``."""

import sys

from squall.httpclient._main import main

sys.exit(main())
