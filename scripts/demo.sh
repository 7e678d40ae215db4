#!/usr/bin/env bash
# The quickstart: classifier and GAN on the offline 5k real-digit sample, then digits drawn.
# Run it as `make demo` (which sets up .venv and the sample first). Knobs, for a quick try:
#   PYTHON (python3)  DATA (datasets/MNIST-5k)  RUN (.: checkpoints/, logs/, outputs/ under it)
#   CLASSIFIER_EPOCHS (20)  GAN_STEPS (4500)  EVAL_SAMPLES (1000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-python3}
data=${DATA:-datasets/MNIST-5k}
run=${RUN:-.}
steps=${GAN_STEPS:-4500}

"$python" classifier.py --data-dir "$data" --epochs "${CLASSIFIER_EPOCHS:-20}" \
  --save-dir "$run/checkpoints/classifier" --log-dir "$run/logs/classifier"
"$python" train.py --data-dir "$data" --steps "$steps" --eval-every "$(( steps / 6 > 0 ? steps / 6 : 1 ))" \
  --eval-samples "${EVAL_SAMPLES:-1000}" --classifier-dir "$run/checkpoints/classifier" \
  --save-dir "$run/checkpoints/gan" --log-dir "$run/logs/gan" | tee "$run/.demo-train.txt"
# --overwrite: a second demo replaces the pictures of the first (and touches nothing else).
"$python" generate.py --checkpoint-dir "$run/checkpoints/gan" --output-dir "$run/outputs" --interpolate \
  --overwrite >/dev/null

echo
echo "Done."
echo "  classifier:   $run/checkpoints/classifier"
echo "  GAN:          $run/checkpoints/gan"
echo "  TensorBoard:  .venv/bin/tensorboard --logdir $run/logs"
echo "  pictures:     $run/outputs/grid.png (one row per digit), $run/outputs/interpolation_*.gif"
# A repeated demo finds the GAN already trained ("already at step N") and scores nothing.
grep -E "recognised as asked|already at step" "$run/.demo-train.txt" | sed 's/^/  /' || true
rm -f "$run/.demo-train.txt"
