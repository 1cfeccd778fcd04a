"""CDR warehouse: pulls call detail records from telecom providers into PostgreSQL."""
