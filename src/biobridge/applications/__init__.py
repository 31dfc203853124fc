"""Uses of a trained bridge beyond retrieval: GO semantic similarity (``similarity``, ``go_semantics``),
zero-shot candidate scoring (``zero_shot``), unseen relations (``unseen_relation``), multi-hop bridging
(``multihop``), question-answering context with pluggable generators (``context``, ``generators``), and
guided drug design (``design``, ``molecules``, ``design_evaluation``). Library code only: the commands are in
``biobridge.cli``, the measuring scripts in ``benchmarks/``. Heavy optional parts import lazily."""
