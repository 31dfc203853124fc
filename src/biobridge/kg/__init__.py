"""Knowledge graphs as typed tables (``graph.KnowledgeGraph``): the packaged default KG (``default_kg``),
PrimeKG (``primekg``) and bring-your-own TSV (``tsv_kg``) loaders, reverse-triple assembly (``triples``),
the node-text template (``text``), seeded subsets (``subset``), the split protocols (``split``) and negative
sampling (``negatives``)."""
