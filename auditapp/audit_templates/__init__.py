"""Audit checklists as versioned YAML data, with the schema that validates them and the loader
that composes a publishable template version (own sections + shared header + its prompt sets)."""
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE_FILES = ("safeguarding.yaml", "health_safety.yaml", "quality_education.yaml")
