"""Uses of a trained bridge beyond retrieval (issue 5): GO semantic similarity, zero-shot candidate scoring
and unseen relations, multi-hop bridging, question-answering context with pluggable generators, and guided
drug design. Each module is importable on its own; heavy optional parts import lazily."""
