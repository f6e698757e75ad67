import sys

from llmrec.cli.main import main

sys.exit(main())
