"""Usage page in the admin (being written)."""
