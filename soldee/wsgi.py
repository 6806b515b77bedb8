import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")
application = get_wsgi_application()

from soldee.checks import refuse_at_start  # noqa: E402 - after Django is set up

refuse_at_start()  # gunicorn runs no system checks: Almaty's offset (E009), the staff language (E010)
