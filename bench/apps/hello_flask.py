"""Bare Flask, no extensions or hooks: the baseline Blasto's routes are compared to."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
