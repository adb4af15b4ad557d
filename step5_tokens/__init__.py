"""One step of the tutorial. Flask's CLI finds create_app here: flask --app <folder> run."""

from .app import create_app

__all__ = ["create_app"]
