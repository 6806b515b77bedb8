"""Agreement copy rendering time (issue 6), on a throwaway SQLite database, no network.

Prints the median of N runs for:
  * bare WeasyPrint: HTML(string=html).write_pdf() of the same agreement HTML (no print.css,
    no URL fetcher: the floor);
  * soldee.pdf.render_pdf(html): the same HTML through our safe renderer (print.css, the
    embedded DejaVu fonts, the deny-by-default fetcher);
  * the full first render of a copy request (template + render + storage + DB);
  * a repeat request for the same acceptance (the stored PDF is reused: no render).

    .venv/bin/python bench/agreement_render.py --runs 5
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples), max(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="soldee-bench-")
    os.environ.update({"SOLDEE_VAR_DIR": tmp, "MEDIA_ROOT": os.path.join(tmp, "media"),
                       "SOLDEE_EMBEDDED": "1", "CELERY_BROKER_URL": "memory://",
                       "DJANGO_SETTINGS_MODULE": "soldee.settings", "LOG_LEVEL": "WARNING"})
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    import logging

    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from weasyprint import HTML

    from accounts.models import CustomerProfile, User
    from billing.gateways import ChargeResult, ChargeStatus
    from billing.services import payment_settle
    from offer import agreement_copies
    from offer.models import AgreementCopy, AgreementCopyRequest
    from offer.services import documents_in_force, seed_initial_documents
    from plans.models import Plan
    from soldee.pdf import render_pdf
    from subscriptions.services import checkout_start

    seed_initial_documents()
    plan = Plan.objects.create(code="start", name="Start", price_minor=2_990_000)
    user = User.objects.create_user("bench@example.kz", "x", language="ru")
    CustomerProfile.objects.create(user=user, kind="individual", name="Сәуле Бағланқызы Төлегенова",
                                   iin_bin="900101300017", address="Алматы, Абай даңғылы 1", phone="+7 701 000 00 00")
    payment = checkout_start(customer=user, plan=plan, document_ids=[d.pk for d in documents_in_force().values()],
                             token="bench", client_ip="127.0.0.1", user_agent="bench")
    payment, _ = payment_settle(public_id=payment.public_id, source="bench", charge=ChargeResult(
        status=ChargeStatus.APPROVED, gateway_ref="bench-1", amount_minor=payment.amount_minor, currency="KZT"))
    acceptance = payment.acceptance
    html = agreement_copies.render_agreement_html(acceptance, language="ru")

    render_pdf(html)  # warm-up (font loading, imports)
    bare = timed(lambda: HTML(string=html).write_pdf(), args.runs)
    safe = timed(lambda: render_pdf(html), args.runs)

    def first_render():
        AgreementCopyRequest.objects.all().delete()
        AgreementCopy.objects.all().delete()
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=user)
        agreement_copies.render_copy(request_id=request.pk)

    full = timed(first_render, args.runs)

    def repeat_request():
        AgreementCopyRequest.objects.filter(status="ready").update(status="posted", tracking_number="X")
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=user)
        assert request.status == "ready"

    repeat = timed(repeat_request, max(args.runs, 20))
    size = AgreementCopy.objects.get().size
    print(f"agreement PDF: {size} bytes, {args.runs} runs, median (min–max) seconds")
    print(f"  bare WeasyPrint (same HTML, no print.css/fetcher): {bare[0]:.3f} ({bare[1]:.3f}–{bare[2]:.3f})")
    print(f"  soldee.pdf.render_pdf (print.css, DejaVu, fetcher): {safe[0]:.3f} ({safe[1]:.3f}–{safe[2]:.3f})")
    print(f"  first copy request, full path (render+store+DB):   {full[0]:.3f} ({full[1]:.3f}–{full[2]:.3f})")
    print(f"  repeat request (stored PDF reused, no render):     {repeat[0] * 1000:.1f} ms "
          f"({repeat[1] * 1000:.1f}–{repeat[2] * 1000:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
