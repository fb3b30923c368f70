"""The Redis view of the live picture: its keyspace, the atomic writes, and the reads."""
