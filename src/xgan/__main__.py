import sys

from xgan.cli import main

sys.exit(main())
