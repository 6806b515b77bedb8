"""Demo data for the embedded mode, loaded idempotently: plans, the legal documents
and a staff login (printed)."""

import os

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from offer.services import seed_initial_documents
from plans.models import Plan

DEMO_PLANS = [
    {"code": "start", "name": "Start", "price_minor": 2_990_000, "display_order": 1,
     "description": "One AI sales agent for a small team.",
     "features": ["1 AI agent", "1,000 dialogues a month", "WhatsApp and Instagram", "E-mail support"],
     "translations": {
         "ru": {"description": "Один ИИ-агент продаж для небольшой команды.",
                "features": ["1 ИИ-агент", "1 000 диалогов в месяц", "WhatsApp и Instagram", "Поддержка по e-mail"]},
         "kk": {"description": "Шағын командаға арналған бір ЖИ сату агенті.",
                "features": ["1 ЖИ-агент", "Айына 1 000 диалог", "WhatsApp және Instagram", "E-mail арқылы қолдау"]}}},
    {"code": "business", "name": "Business", "price_minor": 7_990_000, "display_order": 2,
     "description": "For a sales department with several channels.",
     "features": ["3 AI agents", "5,000 dialogues a month", "CRM integration", "Priority support"],
     "translations": {
         "ru": {"description": "Для отдела продаж с несколькими каналами.",
                "features": ["3 ИИ-агента", "5 000 диалогов в месяц", "Интеграция с CRM", "Приоритетная поддержка"]},
         "kk": {"description": "Бірнеше арнасы бар сату бөліміне арналған.",
                "features": ["3 ЖИ-агент", "Айына 5 000 диалог", "CRM интеграциясы", "Басым қолдау"]}}},
    {"code": "pro", "name": "Pro", "price_minor": 19_990_000, "display_order": 3,
     "description": "For companies with high lead volume.",
     "features": ["10 AI agents", "25,000 dialogues a month", "Custom scenarios", "Dedicated manager"],
     "translations": {
         "ru": {"description": "Для компаний с большим потоком заявок.",
                "features": ["10 ИИ-агентов", "25 000 диалогов в месяц", "Индивидуальные сценарии",
                             "Персональный менеджер"]},
         "kk": {"description": "Өтінімдер ағыны көп компанияларға арналған.",
                "features": ["10 ЖИ-агент", "Айына 25 000 диалог", "Жеке сценарийлер", "Жеке менеджер"]}}},
]

# Tenge per unit, near the National Bank's rates of late 2026: for the demo only.
DEMO_RATES = {"USD": "521.47", "EUR": "601.13", "RUB": "6.52"}

STAFF_EMAIL = os.environ.get("SOLDEE_DEMO_STAFF_EMAIL", "staff@soldee.local")
STAFF_PASSWORD = os.environ.get("SOLDEE_DEMO_STAFF_PASSWORD", "soldee-staff-demo")


class Command(BaseCommand):
    help = "Load demo plans, the initial legal documents and a staff user (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--no-staff", action="store_true", help="Do not create the staff user.")

    @transaction.atomic
    def handle(self, *args, **options):
        from django.conf import settings

        if not options["no_staff"] and not (settings.DEBUG or settings.EMBEDDED):
            # A superuser whose password is in the README (whoever logs in first also sets up
            # its second factor) and unofficial exchange rates customers would be charged at.
            # Refused before anything is written or said.
            raise CommandError(
                "seed_demo creates a staff login with a published password and demo exchange rates: only for the "
                "embedded demo (make run) or with DEBUG=1. In production, use --no-staff (plans and legal "
                "documents only) and manage.py createsuperuser.")
        docs = seed_initial_documents()
        for data in DEMO_PLANS:
            plan, created = Plan.objects.get_or_create(code=data["code"], defaults=data)
            if not created and not plan.translations:  # a demo database from before translations
                plan.translations = data["translations"]
                plan.save(update_fields=["translations", "updated_at"])
        self.stdout.write(f"Legal documents: {len(docs)} new; plans: {Plan.objects.count()} in the catalog.")
        if options["no_staff"]:
            return
        User = get_user_model()
        user = User.objects.filter(email=STAFF_EMAIL).first()
        if user is None:
            user = User.objects.create_superuser(email=STAFF_EMAIL, password=STAFF_PASSWORD)
            EmailAddress.objects.create(user=user, email=STAFF_EMAIL, verified=True, primary=True)
        added = self._demo_rates(user)
        if added:
            self.stdout.write(f"Demo exchange rates for today ({', '.join(added)}), so a non-resident can buy: not "
                              "official; the daily import or Admin -> Exchange rates gives the real ones.")
        self.stdout.write(self.style.SUCCESS(
            f"Staff login for /admin/: {STAFF_EMAIL} / {STAFF_PASSWORD}"
        ))
        if settings.SOLDEE_STAFF_MFA_REQUIRED:
            self.stdout.write("Staff must use two-factor authentication: the first admin visit asks you to set up "
                              "an authenticator app.")

    @staticmethod
    def _demo_rates(staff) -> list[str]:
        """Today's rate of each offered currency that has none (a demo works offline: the
        National Bank's feed is out of reach), marked as demo rates by their source (customers
        read "demo rate, not from the National Bank of Kazakhstan") and their reason."""
        from django.utils import timezone

        from billing.exchange import offered_currencies
        from billing.models import ExchangeRate

        today, added = timezone.localdate(), []
        for currency in offered_currencies():
            rate = DEMO_RATES.get(currency)
            if rate is None or ExchangeRate.objects.filter(currency=currency, rate_date=today).exists():
                continue
            ExchangeRate.objects.create(currency=currency, rate_date=today, kzt_per_unit=rate,
                                        source=ExchangeRate.Source.DEMO, entered_by=staff,
                                        reason="Demo rate (make run), not an official rate")
            added.append(currency)
        return added
