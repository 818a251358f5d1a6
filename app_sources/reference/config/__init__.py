"""Django project package of the Alorig reference app (scaffold for every app)."""
from .celery import app as celery_app

__all__ = ("celery_app",)
