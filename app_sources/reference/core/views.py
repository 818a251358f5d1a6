"""HTTP endpoints of the reference app (plain Django, JSON only)."""
import json
import socket

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .health import run_checks
from .models import BeatState, TaskRun
from .tasks import record_task_run


@require_GET
def health(request):
    ok, results = run_checks()
    body = {"status": "ok" if ok else "error", "app": settings.APP_NAME, **results}
    return JsonResponse(body, status=200 if ok else 503)


@require_GET
def ping(request):
    return JsonResponse(
        {"app": settings.APP_NAME, "hostname": socket.gethostname(), "host": request.get_host()}
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def tasks(request):
    if request.method == "GET":
        runs = [run.as_dict() for run in TaskRun.objects.all()[:20]]
        return JsonResponse({"app": settings.APP_NAME, "tasks": runs})
    queue = "celery"
    if request.body:
        try:
            queue = str(json.loads(request.body).get("queue") or queue)
        except (ValueError, AttributeError):
            return JsonResponse({"error": "body must be a JSON object"}, status=400)
    run = TaskRun.objects.create(queue=queue, requested_by=socket.gethostname())
    result = record_task_run.apply_async(args=[run.pk], queue=queue)
    TaskRun.objects.filter(pk=run.pk).update(celery_id=result.id)
    return JsonResponse(
        {"id": run.pk, "celery_id": result.id, "queue": queue, "status": run.status}, status=202
    )


@require_GET
def task_detail(request, pk):
    try:
        run = TaskRun.objects.get(pk=pk)
    except TaskRun.DoesNotExist:
        return JsonResponse({"error": "not found", "id": pk}, status=404)
    return JsonResponse(run.as_dict())


@require_GET
def beat(request):
    state = BeatState.objects.filter(pk=1).first()
    return JsonResponse(
        {
            "app": settings.APP_NAME,
            "ticks": state.ticks if state else 0,
            "last_tick": state.last_tick.isoformat() if state and state.last_tick else None,
            "cache_last_tick": cache.get("beat:last_tick"),
            "interval_seconds": settings.CELERY_BEAT_TICK_SECONDS,
        }
    )
