"""``python -m timeshift`` is the ``timeshift`` command."""

import sys

from .cli import main

sys.exit(main())
