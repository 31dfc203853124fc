"""Retrieval with a trained run: exact (``index.CandidateIndex``) and FAISS (``faiss_index``, extra
``faiss``) candidate indexes, the bridge as an evaluation scorer (``scorer.BridgeScorer``) and the
``Bridge`` facade (``bridge``): ``Bridge.from_pretrained(run_dir).retrieve(query, head_type, tail_type)``."""
