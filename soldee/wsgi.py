import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")
application = get_wsgi_application()

from soldee.checks import refuse_wrong_almaty  # noqa: E402 - after Django is set up

refuse_wrong_almaty()  # terms and deadlines an hour off otherwise (E009); gunicorn runs no checks
