"""The cluster view: every node's GPUs and runs, read from Prometheus."""
