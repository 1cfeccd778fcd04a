"""Thin Dagster assets: fetch raw pages, parse into legs, then the shared calls and aggregates."""
