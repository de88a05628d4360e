"""VPC mode: private subnets and the VPC endpoints the model and the API call AWS through."""
