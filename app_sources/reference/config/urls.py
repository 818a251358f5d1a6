"""URL routes of the reference app."""
from django.contrib import admin
from django.urls import path

from core import views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("api/ping/", views.ping, name="ping"),
    path("api/tasks/", views.tasks, name="tasks"),
    path("api/tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("api/beat/", views.beat, name="beat"),
    path("admin/", admin.site.urls),
]
