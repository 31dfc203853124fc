#!/usr/bin/env bash
# The bridge levers of docs/benchmarks.md ("Ablations"): the cpu preset as shipped and one change at a time, on
# the inductive split seed 42 of WORKDIR (the default KG, prepared and encoded with the default encoders). Every
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
ALL=train.max_triples_per_epoch=100000000  # every training triple once per epoch
run previous-preset "train.relation_exponent=1.0,$ALL,train.in_batch_negatives=false,train.in_batch_logq=false"
run no-logq-negatives "train.in_batch_negatives=false,train.in_batch_logq=false"
run no-balancing "train.relation_exponent=1.0,$ALL"
run epochs1 "train.epochs=1"
run epochs4 "train.epochs=4"
run depth0 "model.n_layers=0"
run depth6 "model.n_layers=6"
run context10 "model.context_k=10"  # the retrieval-augmented bridge
