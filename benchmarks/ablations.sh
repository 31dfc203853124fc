#!/usr/bin/env bash
# The bridge levers of docs/benchmarks.md ("Ablations"), each a run of the cpu preset with one change, on the
# inductive split seed 42 of WORKDIR (the default KG, prepared and encoded with the default encoders); every
# run ships its hybrid, reported as NAME-hybrid. Results: OUT/runs/inductive-seed42/; table:
# python benchmarks/ablation_table.py OUT/runs/inductive-seed42
# Usage: benchmarks/ablations.sh WORKDIR OUT
set -euo pipefail
WORKDIR=$1
OUT=$2
B=(biobridge benchmark -w "$WORKDIR" --config benchmarks/full_cpu.toml --out "$OUT" --protocol inductive --seed 42)
"${B[@]}" --method biobridge-cpu --method biobridge-hybrid --method feature-knn --method homology-knn \
    --method tanimoto-knn --method popularity --method graph-context > /dev/null
run() {  # NAME OVERRIDES
    "${B[@]}" --variant "$1=cpu,$2" --method "$1" --method "$1-hybrid" > /dev/null
}
run bal05-200k "train.relation_exponent=0.5,train.max_triples_per_epoch=200000"
run bal05 "train.relation_exponent=0.5,train.max_triples_per_epoch=480000"
run depth0 "model.n_layers=0"
run logq "train.in_batch_negatives=true,train.in_batch_logq=true"
run epochs4 "train.epochs=4"
run depth6 "model.n_layers=6"
run val15 "retriever.validation_fraction=0.15"
