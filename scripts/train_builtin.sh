#!/usr/bin/env bash
# The whole recipe of the built-in model. Every step resumes from its checkpoint in runs/, so the script can
# be interrupted and started again. On these 2-core CPUs the GAN is the long part and a second thread hardly
# speeds it up, so the steps that do not need the generator (the classifiers and the attribute
# regressor) run meanwhile on the other core, one thread each (benchmarks/bench_recipe.py measures both
# facts); their output goes to runs/side_steps.log. The shipped files, the commands that actually produced
# them (including interruptions) and their metrics are recorded in neuralcollage/data/pretrained/manifest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
out=neuralcollage/data/pretrained/builtin64
mkdir -p "$out" runs

side_steps() {
    python3 -c "import neuralcollage; from neuralcollage.train.classifier import train_classifier; train_classifier('runs/classifier', kind='whole', arch='builtin64', iterations=1000, batch_size=32, lr=1e-3, seed=0, eval_every=100, n_eval=300, n_final_eval=1200, progress=False)"
    python3 -c "import neuralcollage; from neuralcollage.train.classifier import train_classifier; train_classifier('runs/part_classifier', kind='part', arch='builtin64', iterations=2500, batch_size=16, lr=1e-3, seed=0, part_swap=0.5, eval_every=100, n_eval=300, n_final_eval=1000, progress=False)"
    python3 -c "import neuralcollage; from neuralcollage.train.regressor import train_regressor; train_regressor('runs/regressor', arch='builtin64', iterations=3000, batch_size=32, lr=1e-3, seed=0, progress=False)"
}
side_steps > runs/side_steps.log 2>&1 &
side=$!
trap 'pkill -P "$side" 2>/dev/null; kill "$side" 2>/dev/null || true' EXIT

collage train gan runs/builtin64 --iterations 6000 --batch-size 32 --n-dis 2 --checkpoint-every 100 \
    --sample-every 250 --log-every 10 --seed 0
cp runs/builtin64/generator.npz runs/builtin64/discriminator.npz "$out/"

collage train encoder runs/encoder --generator "$out/generator.npz" --iterations 1500 --batch-size 32 --seed 0
cp runs/encoder/encoder.npz "$out/"

if ! wait "$side"; then
    echo "train_builtin.sh: a classifier or regressor step failed; see runs/side_steps.log" >&2
    exit 1
fi
trap - EXIT
cp runs/classifier/classifier.npz runs/part_classifier/part_classifier.npz runs/regressor/regressor.npz "$out/"
collage axes discover --generator "$out/generator.npz" --regressor "$out/regressor.npz" \
    --n-samples 3000 --seed 0 -o "$out/axes.json"

python3 -c "from neuralcollage.pretrained import write_manifest; write_manifest()"
python3 scripts/evaluate_builtin.py -o neuralcollage/data/pretrained/evaluation.json
