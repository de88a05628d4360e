"""The Lambda behind the inference API: submit, status and result of async TGI inferences."""
