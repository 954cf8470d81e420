"""``python -m engagelab_kit.contract_tests`` is ``engagelab-contract``."""

import sys

from engagelab_kit.contract_tests.cli import main

sys.exit(main())
