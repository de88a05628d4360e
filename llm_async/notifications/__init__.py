"""The success and error topics, and push delivery of results to queues, emails and URLs."""
