"""The served model: engine image, container environment, execution role, presets and GPU instance types."""
