"""Batch jobs (issue 16): the OpenAI Batch API over the async endpoint, in the inference API's Lambda asset."""
