"""The baseline for `make bench`: a bare Flask app with one view returning "ok".

Served by the same gunicorn settings as the real app, so the ratio app ÷ hello-world cancels out
what the machine, gunicorn and wrk cost and leaves what auditapp itself costs per request.
"""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"
