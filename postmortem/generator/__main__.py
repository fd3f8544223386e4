"""`python -m postmortem.generator [OUT] [--examples] ...`."""

import sys

from postmortem.generator.cli import main

sys.exit(main())
