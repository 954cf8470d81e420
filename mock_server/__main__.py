"""``python -m engagelab_kit.mock_server`` is ``engagelab-mock``."""

import sys

from engagelab_kit.mock_server.cli import main

sys.exit(main())
