"""The step1_models step of the tutorial; `flask --app step1_models run` finds create_app here."""

from .app import create_app

__all__ = ["create_app"]
