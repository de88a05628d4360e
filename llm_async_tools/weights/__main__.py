import sys

from llm_async_tools.weights.cli import main

sys.exit(main())
