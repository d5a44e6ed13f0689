"""Generation: requests, samplers, built-in models and the diffusers backend."""
