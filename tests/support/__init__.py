"""Test helpers shared by the contract, system and bench code (no fixtures here)."""
