"""Guided lessons: their content (content.py) and the visuals they show (visuals.py)."""
