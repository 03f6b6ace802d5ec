"""WSGI entry point for gunicorn: `gunicorn -w 4 -b 0.0.0.0:8000 wsgi:app`."""
from auditapp import create_app

app = create_app()
