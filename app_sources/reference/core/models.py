"""Models of the reference app: a task round-trip record and the beat counter."""
from django.db import models


class TaskRun(models.Model):
    """One POST /api/tasks/: created by the backend, completed by a Celery worker."""

    STATUS_QUEUED = "queued"
    STATUS_DONE = "done"
    STATUS_CHOICES = [(STATUS_QUEUED, "queued"), (STATUS_DONE, "done")]

    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=STATUS_QUEUED)
    queue = models.CharField(max_length=64, default="celery")
    celery_id = models.CharField(max_length=64, blank=True, default="")
    requested_by = models.CharField(max_length=255, blank=True, default="")
    worker_hostname = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"TaskRun #{self.pk} ({self.status})"

    def as_dict(self):
        return {
            "id": self.pk,
            "status": self.status,
            "executed": self.status == self.STATUS_DONE,
            "queue": self.queue,
            "celery_id": self.celery_id,
            "requested_by": self.requested_by,
            "worker_hostname": self.worker_hostname,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class BeatState(models.Model):
    """Single row (pk=1) updated by the periodic beat_tick task."""

    ticks = models.PositiveBigIntegerField(default=0)
    last_tick = models.DateTimeField(null=True, blank=True)
    worker_hostname = models.CharField(max_length=255, blank=True, default="")

    def __str__(self):
        return f"{self.ticks} beat ticks, last {self.last_tick}"
