"""A bare Django view for bench/pages.sh: the floor the portal's pages are compared with
(the full middleware stack, no template, no query). Routed only when
settings.SOLDEE_BENCH_VIEWS is true."""

from django.http import HttpResponse


def bare(request):
    return HttpResponse("ok", content_type="text/plain")
