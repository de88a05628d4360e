"""Command-line tools that need no aws-cdk-lib: the API client, the smoke test, the synth summary, the
security report and the scaling simulator. The pipeline's smoke test runs in a venv with only boto3."""
