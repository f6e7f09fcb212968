# The Celery app loads with Django, so tasks bind to it (casino/celery.py).
from casino.celery import app as celery_app

__all__ = ["celery_app"]
