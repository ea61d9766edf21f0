"""The served-path load benchmark (`make bench-load`): see bench/load/run.py."""
