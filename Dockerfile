FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# WeasyPrint needs Pango/HarfBuzz; DejaVu fonts cover Cyrillic, Kazakh letters and ₸.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core tzdata \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
# SOLDEE_EMBEDDED=0: the production storage, which writes the manifest the containers read
# (without a DATABASE_URL the build would count as embedded and write none).
RUN DJANGO_SETTINGS_MODULE=soldee.settings SOLDEE_EMBEDDED=0 SECRET_KEY=build DEBUG=0 python manage.py collectstatic --noinput
RUN useradd --create-home soldee && mkdir -p /app/var /app/media && chown -R soldee /app/var /app/media
USER soldee
EXPOSE 8000
CMD ["gunicorn", "soldee.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30"]
