"""``python -m pynmsnn`` runs the ``pynmsnn`` command."""

import sys

from .cli import main

sys.exit(main())
