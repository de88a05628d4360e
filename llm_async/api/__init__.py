"""The inference API: its construct, its Lambda runtime (runtime/) and the contract between them."""
