"""Where payloads and logs live: the payload bucket, the KMS keys, the log groups."""
