"""Database: engine/sessions (engine.py), tables (models/), migrations (migrate.py)."""
