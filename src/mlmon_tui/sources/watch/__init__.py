"""Finding and tailing log files: inotify through watchdog, or polling."""
