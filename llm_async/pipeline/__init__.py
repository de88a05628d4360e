"""The promotion pipeline's settings, the smoke test's access to a stage, and the findings on what CDK Pipelines generates."""
