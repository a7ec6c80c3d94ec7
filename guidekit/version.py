"""guidekit's version (a leaf: outputs record it, and nothing here imports a stage)."""

__version__ = "0.1.0"
