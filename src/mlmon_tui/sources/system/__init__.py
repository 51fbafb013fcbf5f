"""System sampling: host (psutil), GPUs (NVML), the training processes."""
