"""t2i-audit: evaluation and safety auditing for text-to-image diffusion models."""

__version__ = "0.1.0"
