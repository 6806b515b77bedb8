"""Copies of the agreement on request (clause 5.4): the PDF of the ACCEPTED text, rendered
once per acceptance, downloadable by its owner and staff only; the print-and-post queue."""

import hashlib
import io
import json
import re

import pytest
from django.core import mail
from pypdf import PdfReader

from offer import agreement_copies
from offer.models import AgreementCopy, AgreementCopyRequest, LegalDocument
from offer.services import document_publish
from soldee.models import Event
from soldee.provider import provider_details

from .conftest import KAZAKH_NAME, pdf_text, squeeze

pytestmark = pytest.mark.django_db

KAZAKH_LETTERS = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"


def request_and_render(client, acceptance, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/legal/agreements/{acceptance.pk}/copy/", HTTP_ACCEPT="application/json")
    assert response.status_code in (200, 201)
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("offer.tasks.render_agreement_copy")
    return AgreementCopyRequest.objects.filter(acceptance=acceptance).latest("requested_at")


def test_the_copy_is_the_accepted_version_with_both_parties_and_the_acceptance_record(
        client, kazakh_customer, buy, enqueued, django_capture_on_commit_callbacks):
    acceptance = buy(kazakh_customer)
    accepted_offer = acceptance.offer_document
    # A new version is published after the acceptance: the copy must still be the accepted one.
    amended = LegalDocument.objects.create(
        kind="offer", label="2099-01-01", title="Public Offer", effective_date="2099-01-01",
        body=accepted_offer.body.replace("within 30 minutes", "within 10 minutes") + "\nAMENDED CLAUSE 12.")
    document_publish(document_id=amended.pk)

    client.force_login(kazakh_customer)
    request = request_and_render(client, acceptance, enqueued, django_capture_on_commit_callbacks)
    assert request.status == AgreementCopyRequest.Status.READY

    response = client.get(f"/legal/agreements/{acceptance.pk}/copy/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = b"".join(response.streaming_content)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    flat = squeeze(text)
    assert accepted_offer.sha256 in flat  # the verification line (and the accepted-docs table)
    assert amended.sha256 not in flat
    assert "AMENDED CLAUSE 12" not in text
    assert squeeze("After payment, access is granted within 30 minutes.") in flat  # excerpt of the text
    assert squeeze(KAZAKH_NAME) in flat
    assert all(letter in text for letter in KAZAKH_LETTERS)
    provider = provider_details()
    for detail in (provider.name, provider.bin, provider.account, provider.bic):
        assert squeeze(detail) in flat
    assert kazakh_customer.profile.iin_bin in flat
    assert squeeze("29 900 ₸") in flat  # price, tenge sign rendered
    assert acceptance.payment_reference in flat and "10.1.2.3" in flat
    assert "Start" in text  # the plan
    # Each accepted version's date on one line in the table (found by the customer explorer:
    # the Kazakh copy printed "2025-11-0" / "1").
    assert text.count(accepted_offer.label) >= 4 + 3  # 4 in the text around it, 3 rows of the table
    # A4, page numbers, fonts embedded
    reader = PdfReader(io.BytesIO(data))
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert round(width) == 595 and round(height) == 842
    pages = len(reader.pages)
    assert pages >= 2
    for number, page in enumerate(reader.pages, start=1):  # "Page 1 of 3" / "Страница 1 из 3" / ...
        assert re.search(rf"\b{number}\s+\S+\s+{pages}\s*$", page.extract_text().strip())
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptors = [f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"] for f in fonts.values()]
    assert descriptors and all("/FontFile2" in d for d in descriptors)
    assert all("DejaVu" in str(d["/FontName"]) for d in descriptors)


def test_a_repeat_request_reuses_the_stored_pdf_without_rendering_again(
        client, customer, buy, enqueued, django_capture_on_commit_callbacks, monkeypatch):
    acceptance = buy(customer)
    calls = []
    real = agreement_copies.render_agreement_pdf

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", counting)
    client.force_login(customer)
    first = request_and_render(client, acceptance, enqueued, django_capture_on_commit_callbacks)
    copy = AgreementCopy.objects.get(acceptance=acceptance)
    stored = copy.file.read()
    # The same open request is returned by a second click...
    again = client.post(f"/legal/agreements/{acceptance.pk}/copy/", HTTP_ACCEPT="application/json")
    assert again.status_code == 200 and AgreementCopyRequest.objects.count() == 1
    # ...and once that copy is posted, a new request is ready at once with the same file.
    agreement_copies.mark_posted(request_id=first.pk, by=None, tracking_number="KZ123456789")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/legal/agreements/{acceptance.pk}/copy/", HTTP_ACCEPT="application/json")
    assert response.status_code == 201 and response.json()["status"] == "ready"
    enqueued.run()
    second = AgreementCopyRequest.objects.exclude(pk=first.pk).get()
    assert second.status == "ready" and second.copy_id == copy.pk
    assert AgreementCopy.objects.count() == 1
    copy.refresh_from_db()
    assert copy.file.read() == stored
    assert len(calls) == 1
    # the download is the stored file
    download = client.get(f"/legal/agreements/{acceptance.pk}/copy/download/")
    assert b"".join(download.streaming_content) == stored


def test_running_the_render_task_twice_renders_once(customer, buy, enqueued, monkeypatch,
                                                   django_capture_on_commit_callbacks):
    acceptance = buy(customer)
    calls = []
    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", lambda *a, **k: calls.append(1) or b"%PDF-1.7 x")
    with django_capture_on_commit_callbacks(execute=True):
        request, created = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    agreement_copies.render_copy(request_id=request.pk)
    agreement_copies.render_copy(request_id=request.pk)
    assert created and len(calls) == 1
    verbs = list(Event.objects.filter(subject_type="offer.agreementcopyrequest").values_list("verb", flat=True))
    assert sorted(verbs) == ["agreement_copy.ready", "agreement_copy.rendering", "agreement_copy.requested"]


def test_progress_is_shown_and_the_customer_is_emailed_when_ready(
        client, customer, buy, enqueued, django_capture_on_commit_callbacks):
    acceptance = buy(customer)
    client.force_login(customer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/legal/agreements/{acceptance.pk}/copy/")
    page = client.get("/account/").content.decode()
    assert f'data-poll-url="/legal/agreements/{acceptance.pk}/copy/status/"' in page
    assert "js/poll.js" in page and 'nonce="' in page
    status = client.get(f"/legal/agreements/{acceptance.pk}/copy/status/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert status == {"status": "requested", "label": "Ordered", "final": False, "tracking_number": "",
                      "download_url": None}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("offer.tasks.render_agreement_copy")
    status = client.get(f"/legal/agreements/{acceptance.pk}/copy/status/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert status["status"] == "ready" and status["final"] is True
    assert status["download_url"] == f"/legal/agreements/{acceptance.pk}/copy/download/"
    enqueued.run("offer.tasks.agreement_copy_ready_email")
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert "copy of your agreement" in mail.outbox[0].body


def test_a_failed_render_is_visible_and_retried(customer, buy, enqueued, monkeypatch,
                                                django_capture_on_commit_callbacks):
    acceptance = buy(customer)
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", broken)
    with pytest.raises(OSError):
        agreement_copies.render_copy(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "failed" and "disk full" in request.last_error
    monkeypatch.undo()
    agreement_copies.render_copy(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "ready" and request.attempts == 2


def test_only_the_owner_and_staff_can_see_or_download_a_copy(
        client, customer, other_customer, staff, buy, enqueued, django_capture_on_commit_callbacks):
    acceptance = buy(customer)
    client.force_login(customer)
    request_and_render(client, acceptance, enqueued, django_capture_on_commit_callbacks)
    urls = [f"/legal/agreements/{acceptance.pk}/copy/download/", f"/legal/agreements/{acceptance.pk}/copy/status/"]

    client.force_login(other_customer)
    for url in urls:
        assert client.get(url).status_code == 404
    assert client.post(f"/legal/agreements/{acceptance.pk}/copy/").status_code == 404
    assert client.get("/legal/agreements/999999/copy/download/").status_code == 404

    client.force_login(staff)
    for url in urls:
        assert client.get(url).status_code == 200

    client.logout()
    assert client.get(urls[0]).status_code == 302  # to the login page


def test_staff_work_the_print_and_post_queue_through_the_admin(
        client, kazakh_customer, staff, buy, enqueued, django_capture_on_commit_callbacks, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False  # the admin's second factor is tested elsewhere
    acceptance = buy(kazakh_customer)
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=kazakh_customer)
    enqueued.run("offer.tasks.render_agreement_copy")
    client.force_login(staff)
    queue = client.get("/admin/offer/agreementcopyrequest/").content.decode()
    assert "Қабанбай батыр 11" in queue  # the postal address snapshot
    url = "/admin/offer/agreementcopyrequest/"
    client.post(url, {"action": "mark_printed", "_selected_action": [request.pk]})
    request.refresh_from_db()
    assert request.status == "printed" and request.printed_at
    form = client.post(url, {"action": "mark_posted", "_selected_action": [request.pk]})
    assert form.status_code == 200 and "tracking" in form.content.decode().lower()
    assert form.content.decode().count("<h1>Mark posted</h1>") == 1  # the admin's heading, once
    request.refresh_from_db()
    assert request.status == "printed"  # nothing happens without a tracking number
    client.post(url, {"action": "mark_posted", "_selected_action": [request.pk], "apply": "1",
                      "tracking_number": "RR123456785KZ"})
    request.refresh_from_db()
    assert request.status == "posted" and request.tracking_number == "RR123456785KZ"
    posted = Event.objects.get(verb="agreement_copy.posted")
    assert posted.actor == staff and posted.data["tracking_number"] == "RR123456785KZ"


def test_posting_without_a_tracking_number_is_refused(customer, buy, django_capture_on_commit_callbacks, enqueued):
    acceptance = buy(customer)
    request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    with pytest.raises(agreement_copies.CopyRefused):
        agreement_copies.mark_posted(request_id=request.pk, by=None, tracking_number=" ")
    with pytest.raises(agreement_copies.CopyRefused):  # not rendered yet
        agreement_copies.mark_printed(request_id=request.pk, by=None)
    assert json.loads(json.dumps(AgreementCopyRequest.objects.values("status").get())) == {"status": "requested"}


def test_staff_open_a_paper_copy_request_asked_for_by_e_mail(staff_admin, customer, buy, enqueued):
    """Clause 5.4: 'upon request to info@soldee.kz' — staff record it for the customer."""
    acceptance = buy(customer)
    action = {"action": "paper_copy_requested", "_selected_action": [acceptance.pk]}
    asked = staff_admin.post("/admin/offer/acceptance/", action).content.decode()
    assert 'name="postal_address"' in asked and not AgreementCopyRequest.objects.exists()
    action["apply"] = "1"
    response = staff_admin.post("/admin/offer/acceptance/", action, follow=True)
    copy_request = AgreementCopyRequest.objects.get(acceptance=acceptance)
    assert copy_request.requested_by == staff_admin.staff
    assert f"paper copy request #{copy_request.pk} opened" in response.content.decode()
    event = Event.objects.get(verb="agreement_copy.requested")
    assert event.actor == staff_admin.staff and event.actor_kind == Event.ActorKind.STAFF
    again = staff_admin.post("/admin/offer/acceptance/", action, follow=True)  # a second e-mail
    assert "already open" in again.content.decode()
    assert AgreementCopyRequest.objects.filter(acceptance=acceptance).count() == 1


def test_a_deleted_customers_paper_copy_goes_to_the_address_they_gave_and_posting_is_e_mailed(
        staff_admin, customer, buy, mailoutbox, django_capture_on_commit_callbacks, enqueued):
    """A deleted account's profile is anonymised: staff type the address from the request
    (no copy to "deleted-6", "-"); a posted copy's tracking number is e-mailed to an active
    customer. (Found by the staff explorer.)"""
    from accounts import personal_data
    from subscriptions.models import Subscription
    from subscriptions.services import subscription_end

    acceptance = buy(customer)
    copy_request, _created = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    AgreementCopyRequest.objects.filter(pk=copy_request.pk).update(status="printed")
    with django_capture_on_commit_callbacks(execute=True):
        agreement_copies.mark_posted(request_id=copy_request.pk, by=staff_admin.staff, tracking_number="RR123KZ")
    enqueued.run("offer.tasks.agreement_copy_posted_email")
    assert "RR123KZ" in mailoutbox[-1].body and "was posted" in mailoutbox[-1].body

    from django.db import transaction

    with transaction.atomic():
        subscription_end(subscription_id=Subscription.objects.get(customer=customer).pk, reason="cancelled")
    personal_data.deletion_confirm(request_id=personal_data.deletion_request_create(customer=customer).pk,
                                   by=staff_admin.staff)
    with pytest.raises(agreement_copies.CopyRefused, match="type the postal address"):
        agreement_copies.request_copy(acceptance_id=acceptance.pk, by=staff_admin.staff)
    action = {"action": "paper_copy_requested", "_selected_action": [acceptance.pk], "apply": "1",
              "postal_address": "Almaty, Abay 10, apt 5", "recipient_name": "A. Satpayeva"}
    staff_admin.post("/admin/offer/acceptance/", action, follow=True)
    posted_to = AgreementCopyRequest.objects.exclude(pk=copy_request.pk).get(acceptance=acceptance)
    assert (posted_to.postal_address, posted_to.recipient_name) == ("Almaty, Abay 10, apt 5", "A. Satpayeva")


def test_a_lost_render_is_sent_again_by_the_sweep(customer, buy, enqueued, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    """Found by the contract-map audit: a render task lost on its way (the broker down as the
    request committed) or a render that failed past its Celery retries left the request
    'Copy requested' or 'failed' for good: the customer's repeat request returns the open
    one and queues nothing, and no sweep looked. The sweep re-sends what has waited too long,
    a bounded number of times (then it waits for staff's "Render again")."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from offer.tasks import agreement_copy_sweep

    acceptance = buy(customer)
    with django_capture_on_commit_callbacks(execute=True):
        request, created = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    assert created
    enqueued.calls.clear()  # the render task never reached a worker
    again, created = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    assert again.pk == request.pk and not created and not enqueued.names()
    assert agreement_copy_sweep.apply().get() == 0  # just asked: its task may still be on its way
    later = timezone.now() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        assert agreement_copy_sweep.apply().get() == 1

    render, disk_full = agreement_copies.render_agreement_pdf, [True]

    def broken(*args, **kwargs):
        if disk_full:
            raise OSError("disk full")
        return render(*args, **kwargs)

    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", broken)
    with pytest.raises(OSError):
        enqueued.run("offer.tasks.render_agreement_copy")  # ... and failed past its retries
    request.refresh_from_db()
    assert request.status == AgreementCopyRequest.Status.FAILED
    enqueued.calls.clear()
    disk_full.clear()
    with time_machine.travel(later + timedelta(hours=1), tick=False):
        assert agreement_copy_sweep.apply().get() == 1
        enqueued.run("offer.tasks.render_agreement_copy")
    request.refresh_from_db()
    assert request.status == AgreementCopyRequest.Status.READY and request.copy_id


def test_the_sweep_leaves_a_render_that_keeps_failing_to_staff(customer, buy, enqueued,
                                                               django_capture_on_commit_callbacks):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from offer.tasks import agreement_copy_sweep

    acceptance = buy(customer)
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    AgreementCopyRequest.objects.filter(pk=request.pk).update(
        status=AgreementCopyRequest.Status.FAILED, attempts=agreement_copies.SWEEP_MAX_ATTEMPTS)
    enqueued.calls.clear()
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert agreement_copy_sweep.apply().get() == 0
    assert not enqueued.names()


def test_staff_render_again_a_render_that_never_finished(customer, buy, enqueued, staff_admin,
                                                        django_capture_on_commit_callbacks):
    """A render the worker never finished (killed at the task's time limit, the worker lost)
    leaves the request 'rendering'. Once the sweep has used its attempts, staff's "Render
    again" is all that is left (docs/documents.md), and it took only requested and failed
    ones: the customer's copy (clause 5.4) waited for good. A render still under way is not
    sent twice."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from offer.tasks import agreement_copy_sweep

    acceptance = buy(customer)
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=customer)
    AgreementCopyRequest.objects.filter(pk=request.pk).update(
        status=AgreementCopyRequest.Status.RENDERING, attempts=agreement_copies.SWEEP_MAX_ATTEMPTS)
    enqueued.calls.clear()
    action = {"action": "render_again", "_selected_action": [request.pk]}
    staff_admin.post("/admin/offer/agreementcopyrequest/", action)
    assert not enqueued.names(), "a render under way is not sent again"
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert agreement_copy_sweep.apply().get() == 0
        response = staff_admin.post("/admin/offer/agreementcopyrequest/", action, follow=True)
    assert enqueued.names() == ["offer.tasks.render_agreement_copy"]
    assert f"#{request.pk}: queued." in response.content.decode()
    enqueued.run("offer.tasks.render_agreement_copy")
    request.refresh_from_db()
    assert request.status == AgreementCopyRequest.Status.READY and request.copy_id

def test_a_copy_that_cannot_be_rendered_on_download_says_it_is_being_prepared(
        client, customer, other_customer, buy, enqueued, monkeypatch, django_capture_on_commit_callbacks):
    """As a receipt whose PDF cannot be rendered on download (billing.views.pdf_being_prepared):
    503 with Retry-After, not a server error or a 404 that reads as 'no such agreement'.
    Someone else's is still 404."""
    acceptance = buy(customer)
    url = f"/legal/agreements/{acceptance.pk}/copy/download/"

    def broken(*args, **kwargs):
        raise OSError("fonts missing")

    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", broken)
    client.force_login(customer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/legal/agreements/{acceptance.pk}/copy/")
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503 and response["Retry-After"] == "120"
    assert response["Cache-Control"] == "private, no-store"
    body = response.content.decode()
    assert "Copy of the agreement of " in body and "is being prepared. This usually takes a few seconds" in body
    assert f'href="{url}"' in body and 'href="/account/"' in body  # Try again, the personal account
    client.force_login(other_customer)
    assert client.get(url).status_code == 404
    client.force_login(customer)
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("offer.tasks.render_agreement_copy")
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF-")


def test_the_customer_downloads_the_pdf_without_ordering_a_paper_copy(
        client, customer, other_customer, buy, enqueued, django_capture_on_commit_callbacks):
    """Found by the customer explorer: the only way to the PDF was "Request a paper copy",
    which also put a paper copy in staff's print-and-post queue. The account offers two
    choices: the PDF to download (rendered once, stored as a paper copy's PDF is; no request,
    nothing to post) and a paper copy by post, which is what the button says."""
    acceptance = buy(customer)
    client.force_login(customer)
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    control = page[page.index(f'id="copy-{acceptance.pk}"'):]
    control = control[:control.index("</div>")]
    url = f"/legal/agreements/{acceptance.pk}/copy/download/"
    assert f'<a href="{url}" data-copy-download>Download the agreement (PDF)</a>' in control
    assert "Order a paper copy by post</button>" in control
    assert f'action="/legal/agreements/{acceptance.pk}/copy/"' in control

    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url).status_code == 503  # being prepared: the worker renders it
    with django_capture_on_commit_callbacks(execute=True):
        enqueued.run("offer.tasks.render_agreement_download")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = b"".join(response.streaming_content)
    assert data.startswith(b"%PDF-") and acceptance.offer_document.sha256 in squeeze(pdf_text(data))
    assert not AgreementCopyRequest.objects.exists()  # nothing in the print-and-post queue
    assert not [name for name in enqueued.names() if name.startswith("offer.tasks.")]  # nor a copy e-mail
    copy = AgreementCopy.objects.get(acceptance=acceptance)
    assert copy.sha256 == hashlib.sha256(data).hexdigest()
    # Rendered once: the next download is the stored file...
    again = client.get(url)
    assert b"".join(again.streaming_content) == data and AgreementCopy.objects.count() == 1
    # ...and a paper copy ordered afterwards reuses it, ready at once for staff to print.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/legal/agreements/{acceptance.pk}/copy/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    request = AgreementCopyRequest.objects.get()
    assert request.status == "ready" and request.copy_id == copy.pk
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your paper copy of the agreement is ordered. We will post it" in page
    assert "Paper copy by post" in page and "Order a paper copy by post</button>" not in page
    # Someone else cannot have it rendered or download it.
    client.force_login(other_customer)
    assert client.get(url).status_code == 404


def test_a_download_never_renders_the_agreement_it_sends_the_render_to_the_worker_once(
        client, customer, other_customer, buy, enqueued, monkeypatch, django_capture_on_commit_callbacks):
    """Found by review: "Download the agreement (PDF)" rendered the PDF inside the web request
    on its first download (WeasyPrint, ~0.25 s of CPU), and each "Try again" after a failed
    render rendered again. The request renders nothing: "being prepared" (503) and the render
    sent to the worker once; "Try again" while it is on its way sends nothing more; once the
    worker has stored it, the download is the PDF."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from offer.models import AgreementCopyRender
    from offer.tasks import agreement_copy_sweep

    acceptance = buy(customer)
    real, renders = agreement_copies.render_agreement_pdf, []

    def counting(*args, **kwargs):
        renders.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", counting)
    client.force_login(customer)
    url = f"/legal/agreements/{acceptance.pk}/copy/download/"
    task = "offer.tasks.render_agreement_download"
    enqueued.calls.clear()
    for _click in range(3):  # the download and two "Try again"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 503 and response["Retry-After"] == "120"
        assert f'href="{url}"' in response.content.decode()  # Try again
    assert renders == [] and enqueued.names() == [task]
    assert not AgreementCopyRequest.objects.exists()  # nothing in the print-and-post queue
    # Someone else's click sends nothing.
    client.force_login(other_customer)
    assert client.get(url).status_code == 404 and enqueued.names() == [task]
    client.force_login(customer)
    enqueued.run(task)
    assert renders == [1]
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF-")
    assert renders == [1] and AgreementCopyRender.objects.get(acceptance=acceptance).render_attempts == 1
    # Stored: the sweep sends nothing for it.
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert agreement_copy_sweep.apply().get() == 0


def test_a_download_s_render_that_keeps_failing_is_bounded_and_staff_are_told(
        client, customer, buy, enqueued, monkeypatch, django_capture_on_commit_callbacks):
    """A download's render that fails is retried by the worker, re-sent by the copy sweep
    and by a download only once the last one is long gone, up to RENDER_MAX_ATTEMPTS
    attempts; the attempt that uses them up e-mails staff, and nothing is sent after it."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from offer.models import AgreementCopyRender
    from offer.tasks import agreement_copy_sweep
    from soldee.tasks import RENDER_MAX_ATTEMPTS, RENDER_RESEND_AFTER

    acceptance = buy(customer)

    def broken(*args, **kwargs):
        raise OSError("fonts missing")

    monkeypatch.setattr(agreement_copies, "render_agreement_pdf", broken)
    client.force_login(customer)
    url = f"/legal/agreements/{acceptance.pk}/copy/download/"
    task = "offer.tasks.render_agreement_download"
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url).status_code == 503
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OSError):
        enqueued.run(task)  # the worker tries, and retries, and fails
    render = AgreementCopyRender.objects.get(acceptance=acceptance)
    assert 1 <= render.render_attempts < RENDER_MAX_ATTEMPTS and "fonts missing" in render.render_error
    enqueued.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url).status_code == 503  # just tried: "Try again" sends nothing
    assert enqueued.names() == []
    later = timezone.now() + RENDER_RESEND_AFTER + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(url).status_code == 503  # long gone: sent again, once
            assert client.get(url).status_code == 503
    assert enqueued.names() == [task]
    enqueued.calls.clear()
    AgreementCopyRender.objects.filter(pk=render.pk).update(render_attempts=RENDER_MAX_ATTEMPTS - 1)
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert agreement_copy_sweep.apply().get() == 1  # left behind: the sweep sends it
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(OSError):
            enqueued.run(task)
        assert "soldee.tasks.staff_alert" in enqueued.names()  # the last attempt tells staff
        render.refresh_from_db()
        assert render.render_attempts >= RENDER_MAX_ATTEMPTS
        assert enqueued.names().count("soldee.tasks.staff_alert") == 1
    enqueued.calls.clear()
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=False):
        assert agreement_copy_sweep.apply().get() == 0
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(url).status_code == 503
    assert enqueued.names() == []


def test_the_copy_names_the_plan_without_its_internal_code(customer, buy):
    """Found by the customer explorer: the copy printed "Тариф Start (start)", the plan's
    code in brackets after its name. The code is ours, not the customer's."""
    acceptance = buy(customer)
    assert (acceptance.plan_name, acceptance.plan_code) == ("Start", "start")
    html = agreement_copies.render_agreement_html(acceptance, language="ru")
    assert re.search(r"<dd>\s*Start\s*</dd>", html)
    assert "(start)" not in html


def test_the_customer_reads_what_happens_to_the_paper_copy_not_the_pdf_s_render_state(
        client, customer, buy, enqueued, django_capture_on_commit_callbacks):
    """Next to "Paper copy by post" the account page and its poll said "Copy ready" (the PDF
    rendered, waiting in the print-and-post queue) and "Preparation failed, retrying" (a failed
    render): states of a PDF, not of a copy in the post. The customer's labels say what happens
    to the paper copy; the stored statuses and the staff's choices are unchanged."""
    from django.utils import translation

    Status = AgreementCopyRequest.Status
    assert set(AgreementCopyRequest.CUSTOMER_LABELS) == set(Status.values)
    render_words = {"en": ("Copy ready", "failed", "PDF"), "ru": ("Копия договора готова", "Не удалось", "PDF"),
                    "kk": ("Шарт көшірмесі дайын", "сәтсіз", "PDF")}
    for language, words in render_words.items():
        with translation.override(language):
            labels = [str(label) for label in AgreementCopyRequest.CUSTOMER_LABELS.values()]
        assert len(set(labels)) == len(labels), language
        assert not [label for label in labels for word in words if word in label], (language, labels)
        if language != "en":
            with translation.override("en"):
                english = [str(label) for label in AgreementCopyRequest.CUSTOMER_LABELS.values()]
            assert not set(labels) & set(english), language

    acceptance = buy(customer)
    client.force_login(customer)
    request = request_and_render(client, acceptance, enqueued, django_capture_on_commit_callbacks)
    assert request.status == Status.READY  # the stored value
    status = client.get(f"/legal/agreements/{acceptance.pk}/copy/status/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (status["status"], status["label"]) == ("ready", "Waiting to be printed and posted")
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Waiting to be printed and posted</span>" in page and "Copy ready" not in page
    agreement_copies.mark_posted(request_id=request.pk, by=None, tracking_number="RR123456785KZ")
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-poll-label>Posted</span>" in page and "RR123456785KZ" in page


@pytest.mark.parametrize("language, generated, awkward", [
    ("en", ["Search paper copy requests", "1 paper copy request", "Select paper copy request to view"], []),
    ("ru", ["Искать запросы бумажных копий договоров", "1 запрос бумажной копии договора",
            "Выберите запрос бумажной копии договора для просмотра"], ["очередь на печать"]),
    ("kk", ["Іздеу: шарттың қағаз көшірмесіне өтінімдер", "шарттың қағаз көшірмесіне 1 өтінім",
            "Қарау: шарттың қағаз көшірмесіне өтінім"], ["кезегі беттері", "көшірмесін сұрау"]),
])
def test_the_print_and_post_queue_s_name_reads_well_in_the_admin_s_generated_texts(
        client, kazakh_customer, staff, buy, django_capture_on_commit_callbacks, settings,
        language, generated, awkward):
    """Found by a newcomer: the queue's plural name had a colon («шарт көшірмелері: басып шығару
    және жіберу кезегі»), and Django's texts around it read «Іздеу: шарт көшірмелері: …»,
    «…кезегі беттері», «1 шарт көшірмесін сұрау». No model's name has a colon now."""
    import re

    from django.apps import apps
    from django.utils import translation

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    acceptance = buy(kazakh_customer)
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=kazakh_customer)
    client.force_login(staff)
    client.cookies["django_language"] = language
    url = "/admin/offer/agreementcopyrequest/"
    pages = client.get(url).content.decode() + client.get(f"{url}{request.pk}/change/").content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", pages)) + " ".join(re.findall(r'placeholder="([^"]*)"', pages))
    for phrase in generated:
        assert phrase in text, (language, phrase)
    for phrase in awkward:
        assert phrase not in text, (language, phrase)
    with translation.override(language):
        colons = [str(m._meta.verbose_name_plural) for m in apps.get_models()
                  if ":" in str(m._meta.verbose_name) + str(m._meta.verbose_name_plural)]
    assert not colons, (language, colons)
