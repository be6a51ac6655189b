#!/bin/bash
# Multi-node training with torchrun: Lightning's TorchElasticEnvironment picks up the ranks torchrun sets.
# Run the same command on every node, with NODE_RANK 0..NNODES-1 and MASTER_ADDR the address of node 0:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 GPUS=4 RUN=exp1 scripts/torchrun_train.sh configs/crnn_mobilenetv3.yaml
# On one machine: GPUS=4 scripts/torchrun_train.sh configs/crnn_mobilenetv3.yaml
# RUN names the run folder runs/<config>/<RUN>; launching again with the same RUN resumes it from its newest
# checkpoint. Without RUN each launch on one machine starts a new run (runs/<config>/torchrun-<date>-<random>);
# several nodes must be given the same RUN, since each node would otherwise name its own.
set -euo pipefail
CONFIG=${1:-configs/crnn_mobilenetv3.yaml}
shift || true
NNODES=${NNODES:-1}
GPUS=${GPUS:-1}
if [ -z "${RUN:-}" ] && [ -z "${LIGHTOCR_RUN_DIR:-}" ]; then
  if [ "$NNODES" -gt 1 ]; then
    echo "torchrun_train.sh: set RUN (the same on every node) to name the run of a multi-node job" >&2
    exit 2
  fi
  RUN="torchrun-$(date +%Y%m%d-%H%M%S)-$RANDOM"
fi
export LIGHTOCR_RUN_DIR=${LIGHTOCR_RUN_DIR:-runs/$(basename "$CONFIG" .yaml)/$RUN}
torchrun --nnodes="$NNODES" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$GPUS" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
  -m lightocr fit --config "$CONFIG" --ckpt_path auto \
  --trainer.accelerator=gpu --trainer.strategy=ddp --trainer.devices="$GPUS" --trainer.num_nodes="$NNODES" \
  --trainer.precision=16-mixed \
  "$@"
