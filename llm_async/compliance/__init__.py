"""Acknowledging findings of cdk-nag and checkov at their resources, and registering the rule packs."""
