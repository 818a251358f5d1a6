from django.contrib import admin

from .models import BeatState, TaskRun


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "queue", "worker_hostname", "created_at", "finished_at")
    list_filter = ("status", "queue")


@admin.register(BeatState)
class BeatStateAdmin(admin.ModelAdmin):
    list_display = ("id", "ticks", "last_tick", "worker_hostname")
