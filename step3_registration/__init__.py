"""The step3_registration step of the tutorial; `flask --app step3_registration run` finds create_app here."""

from .app import create_app

__all__ = ["create_app"]
