"""``python -m cardflow`` is the ``cardflow`` command."""

import sys

from cardflow.cli import main

sys.exit(main())
