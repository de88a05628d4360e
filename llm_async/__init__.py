"""llm-async's CDK constructs: one folder per concern, each with its construct and its configuration.

No module imported by a package `__init__` here: the configuration modules stay importable without
aws-cdk-lib (the tools in `llm_async_tools` read them).
"""
