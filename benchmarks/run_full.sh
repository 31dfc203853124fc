#!/usr/bin/env bash
# The full retrieval benchmark on the default KG, as run for docs/benchmarks.md, one (protocol, seed) slice at a
# time (each slice is cached under $OUT/runs, so an interrupted run resumes; the last call only aggregates).
# Usage: benchmarks/run_full.sh WORKDIR [OUT]   (WORKDIR holds kg/ and embeddings/ of the default KG)
set -euo pipefail
W=${1:?workdir}
OUT=${2:-benchmarks/results/full}
KGE_EPOCHS=${KGE_EPOCHS:-10}
CPU_TRIPLES=${CPU_TRIPLES:-200000}
PAPER_TRIPLES=${PAPER_TRIPLES:-12288}
SEEDS=${SEEDS:-"42 43 44"}
COMMON=(--workdir "$W" --out "$OUT" --kge-model TransE --kge-model RotatE --kge-epochs "$KGE_EPOCHS"
        --variant "biobridge-cpu=cpu,train.max_triples_per_epoch=$CPU_TRIPLES"
        --variant "biobridge-paper=paper,train.epochs=1,train.max_triples_per_epoch=$PAPER_TRIPLES")
MAIN=(--method biobridge-cpu --method biobridge-cpu+knn --method transe --method rotate --method popularity
      --method feature-knn)
for seed in $SEEDS; do
  for protocol in transductive paper inductive; do
    biobridge benchmark "${COMMON[@]}" --protocol "$protocol" --seed "$seed" "${MAIN[@]}" > /dev/null
  done
done
if [ "${PAPER_PRESET:-1}" = 1 ]; then  # the paper preset (reduced), first seed only: it is slow on CPU
  for protocol in transductive paper inductive; do
    biobridge benchmark "${COMMON[@]}" --protocol "$protocol" --seed "${SEEDS%% *}" --method biobridge-paper > /dev/null
  done
fi
# aggregate everything cached (popularity is cheap and recomputed only if missing) and regenerate the docs
args=()
for seed in $SEEDS; do args+=(--seed "$seed"); done
biobridge benchmark "${COMMON[@]}" --protocol paper --protocol transductive --protocol inductive "${args[@]}" \
    --method popularity --docs docs/benchmarks.md
