"""The step2_hashing step of the tutorial; `flask --app step2_hashing run` finds create_app here."""

from .app import create_app

__all__ = ["create_app"]
