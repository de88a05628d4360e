"""The async endpoint (config, endpoint, log group), its metrics, and its scaling to zero and back."""
