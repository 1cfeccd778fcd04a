"""The one load path into PostgreSQL, shared by every provider."""
