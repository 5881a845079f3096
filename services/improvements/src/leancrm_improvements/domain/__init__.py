"""The Improvement aggregate, pure."""
