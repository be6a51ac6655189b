#!/bin/bash
# Multi-node training with torchrun: Lightning's TorchElasticEnvironment picks up the ranks torchrun sets.
# Run the same command on every node, with NODE_RANK 0..NNODES-1 and MASTER_ADDR the address of node 0:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 GPUS=4 RUN=exp1 scripts/torchrun_train.sh configs/crnn_mobilenetv3.yaml
# On one machine: GPUS=4 scripts/torchrun_train.sh configs/crnn_mobilenetv3.yaml
# RUN names the run folder runs/<config>/<RUN> (the same on every node); launching again with the same RUN
# resumes it from its last checkpoint.
set -euo pipefail
CONFIG=${1:-configs/crnn_mobilenetv3.yaml}
shift || true
export LIGHTOCR_RUN_DIR=${LIGHTOCR_RUN_DIR:-runs/$(basename "$CONFIG" .yaml)/${RUN:-torchrun}}
NNODES=${NNODES:-1}
GPUS=${GPUS:-1}
torchrun --nnodes="$NNODES" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$GPUS" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
  -m lightocr fit --config "$CONFIG" --ckpt_path auto \
  --trainer.accelerator=gpu --trainer.strategy=ddp --trainer.devices="$GPUS" --trainer.num_nodes="$NNODES" \
  --trainer.precision=16-mixed \
  "$@"
