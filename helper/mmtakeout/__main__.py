import sys

from mmtakeout.cli import main

sys.exit(main())
