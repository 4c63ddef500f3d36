"""The long-running process around the pipeline: the scheduler and its signals, config
reload, the HTTP listener (metrics, health), the health checks and systemd notification."""
