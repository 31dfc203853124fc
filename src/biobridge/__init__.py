"""biobridge: bridge frozen biomedical foundation models through a knowledge graph."""

__version__ = "0.1.0"
