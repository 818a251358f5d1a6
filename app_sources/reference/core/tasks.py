"""Celery tasks of the reference app."""
import socket
import time

from celery import shared_task
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from .models import BeatState, TaskRun


@shared_task(name="core.tasks.record_task_run")
def record_task_run(task_run_id, work_ms=0):
    """Mark a TaskRun as executed by this worker (proves broker + worker + DB).

    ``work_ms`` first waits that long, like a task waiting on an outside API (the
    worker scaling benchmark, bench/celery_bench.sh)."""
    if work_ms:
        time.sleep(min(int(work_ms), 60000) / 1000.0)
    hostname = socket.gethostname()
    updated = TaskRun.objects.filter(pk=task_run_id).update(
        status=TaskRun.STATUS_DONE, worker_hostname=hostname, finished_at=timezone.now()
    )
    return {"id": task_run_id, "updated": updated, "worker_hostname": hostname}


@shared_task(name="core.tasks.beat_tick", ignore_result=True)
def beat_tick():
    """Run by celery beat every CELERY_BEAT_TICK_SECONDS: count ticks in DB + cache."""
    now = timezone.now()
    BeatState.objects.get_or_create(pk=1)
    BeatState.objects.filter(pk=1).update(
        ticks=F("ticks") + 1, last_tick=now, worker_hostname=socket.gethostname()
    )
    cache.set("beat:last_tick", now.isoformat(), timeout=3600)
    return now.isoformat()
