"""The step4_auth step of the tutorial; `flask --app step4_auth run` finds create_app here."""

from .app import create_app

__all__ = ["create_app"]
