"""The pipeline: the configuration, the resources a night opens once, and the night itself."""
