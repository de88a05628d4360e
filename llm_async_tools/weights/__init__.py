"""Stage a Hugging Face Hub repository, at a pinned commit, into the account's S3 for the engine's /opt/ml/model.

    python -m llm_async_tools.weights stage  --model-id OWNER/NAME --revision SHA --bucket BUCKET [...]
    python -m llm_async_tools.weights verify --model-id OWNER/NAME --revision SHA --bucket BUCKET

The layout is llm_async.model.staged's; docs/weights.md says what is selected, how the token is read, how an
interrupted run resumes and what the operator's role needs. Modules:

    cli.py        arguments, exit codes (0 staged, 1 staging failed or did not verify, 2 usage or configuration)
    stage.py      the order of the work: already staged? list, select, probe access, download, verify, upload, manifest
    hub.py        huggingface_hub 2.4.0: the listing with file metadata, the access probe, the download
    selection.py  what an engine reads from its model directory, and the duplicates it does not need
    integrity.py  a downloaded file against the Hub's sha256 (LFS) or git blob id (regular files)
    bucket.py     boto3 S3: the bucket check, per-object state, uploads, the manifest
    manifest.py   the manifest's fields, written and read
    token.py      the Hub token from Secrets Manager or HF_TOKEN, never logged
    errors.py     the two failures the exit codes tell apart

No module imports aws-cdk-lib (tests/tools/test_imports.py).
"""
