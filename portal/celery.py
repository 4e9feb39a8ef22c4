"""The Celery application.

With no ``CELERY_BROKER_URL`` the settings switch tasks to eager mode, so the embedded
default (``make run`` without configuration) runs every job in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
